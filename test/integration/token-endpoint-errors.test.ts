import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';
import { GraphFailure } from '../../lib/graph/graph-failure.js';
import { createHttpClient } from '../../lib/graph/http-client.js';
import { msalNetworkClient } from '../../lib/graph/msal-network-client.js';
import { GRAPH_SCOPE, TokenProvider } from '../../lib/graph/token-provider.js';

/**
 * The real token path (MSAL through our got client) against the emulator's Entra ID answering 5xx.
 * MSAL keeps a throttling cache: handed a 429 or 5xx, it refuses every later token request of that
 * client locally, for Retry-After or 60 s when there is none. A 6-s outage then cost minutes. The
 * answer must reach us instead, with its Retry-After, and the endpoint be asked again as soon as we
 * choose.
 */
const certDir = mkdtempSync(join(tmpdir(), 'token-endpoint-errors-'));
let emulator: RunningEmulator;
let control: EmulatorControl;
let ca: Buffer;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, certDir });
  control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  ca = readFileSync(emulator.caCertPath);
});
afterEach(async () => {
  await control.reset();
});
afterAll(async () => {
  await emulator?.close();
  rmSync(certDir, { recursive: true, force: true });
});

function tokenProvider(): TokenProvider {
  const env = emulator.env();
  const http = createHttpClient({ timeoutMs: 5000, maxSockets: 4, env: {} }).extend({
    https: { certificateAuthority: ca },
  });
  return new TokenProvider(
    {
      clientId: env.AZURE_CLIENT_ID!,
      clientSecret: env.AZURE_CLIENT_SECRET,
      authorityHost: emulator.authorityHost,
      scope: GRAPH_SCOPE,
    },
    msalNetworkClient(http),
  );
}

async function failureOf(promise: Promise<unknown>): Promise<GraphFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphFailure);
  return err as GraphFailure;
}

describe('a token endpoint answering 5xx', () => {
  it('leaves MSAL free to ask again: the first probe after the outage gets a token, not a minute of local refusals', async () => {
    const tenant = randomUUID();
    const tokens = tokenProvider();
    await control.setTokenFailure('500');
    const failure = await failureOf(tokens.token(tenant));
    expect(failure.code).toBe('E_AUTH_TOKEN_UNAVAILABLE');
    expect(failure.kind).toBe('transient');
    expect(failure.httpStatus).toBe(500);
    // The next probe goes a quarter of a second later; until then callers hear the same at once.
    expect(failure.retryAfterMs).toBe(250);
    const meanwhile = await failureOf(tokens.token(tenant));
    expect(meanwhile.code).toBe('E_AUTH_TOKEN_UNAVAILABLE');
    expect(meanwhile.retryAfterMs).toBeLessThanOrEqual(250);

    await control.setTokenFailure(null);
    await sleep(meanwhile.retryAfterMs!);
    await expect(tokens.token(tenant)).resolves.toEqual(expect.any(String));
    expect((await control.stats()).tenants[tenant]?.tokenRequests).toBe(2);
  });

  it("hands on the endpoint's own Retry-After, so the next probe waits what Entra ID asked", async () => {
    const tenant = randomUUID();
    const tokens = tokenProvider();
    await control.setTokenOutage(true);
    const failure = await failureOf(tokens.token(tenant));
    expect(failure.code).toBe('E_AUTH_TOKEN_UNAVAILABLE');
    expect(failure.httpStatus).toBe(503);
    expect(failure.retryAfterMs).toBe(1000);

    await control.setTokenOutage(false);
    await sleep(1000);
    await expect(tokens.token(tenant)).resolves.toEqual(expect.any(String));
  });

  it('sends one probe at a time however many callers wait, backing off to at most 1.5 s between probes', async () => {
    const tenant = randomUUID();
    const tokens = tokenProvider();
    await control.setTokenFailure('500');
    const started = Date.now();
    let calls = 0;
    const waits: number[] = [];
    // 20 callers, each asking again as soon as it is told, for 4 s.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (Date.now() - started < 4000) {
          calls++;
          const failure = await failureOf(tokens.token(tenant));
          waits.push(failure.retryAfterMs!);
          await sleep(failure.retryAfterMs!);
        }
      }),
    );
    const probes = (await control.stats()).tenants[tenant]?.tokenRequests ?? 0;
    // 250, 500, 1000, then every 1.5 s: 5 probes in 4 s, and never more than one in flight.
    expect(calls).toBeGreaterThan(50);
    expect(probes).toBeGreaterThanOrEqual(4);
    expect(probes).toBeLessThanOrEqual(6);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1500);
  });
});

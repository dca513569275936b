import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, useStack, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap } from '../support/graph-tap.js';
import {
  dumpRedis,
  enqueueRows,
  expectFinished,
  expectNoneAssigned,
  expectTruthMatchesReport,
  reportOf,
  statusOf,
} from '../support/rollout-checks.js';

/**
 * The client secret and the bearer tokens it buys never leave the worker's memory: not in its logs at
 * the chattiest levels (trace, debug), not in Redis, not in reports, whatever happens on the way
 * (Graph refusing a token with 401, server errors, dropped connections, Entra ID refusing the secret).
 */

/** A JWT in compact form, as Entra ID (and the emulator) issue access tokens. */
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/;

/** Every way a secret could show: the value itself, as a bearer header, as a JWT. */
function expectNoSecrets(where: string, text: string, secrets: string[]): void {
  expect(text.length, `${where} is empty: nothing was checked`).toBeGreaterThan(0);
  for (const secret of secrets)
    expect(text.includes(secret), `${where} contains a secret (${secret.slice(0, 12)}…)`).toBe(false);
  expect(/Bearer\s/i.test(text), `${where} contains a bearer header`).toBe(false);
  expect(JWT.exec(text)?.[0], `${where} contains a JWT`).toBeUndefined();
}

describe('a rollout with 401s and faults, logged at trace and debug', () => {
  const secret = `s3cr3t~${randomUUID()}`;
  let stack: Stack;
  let tap: GraphTap;
  beforeAll(async () => {
    stack = await startStack({
      // Short-lived tokens: the workers fetch many, so there are many to leak.
      emulator: {
        clientSecret: secret,
        tokenLifetimeSeconds: 120,
        faults: { internalError: 0.1, reset: 0.1 },
        seed: 3,
      },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
    let posts = 0;
    // Graph refuses every fourth POST's token with 401, as it does for a revoked or expired token.
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) => {
      if (req.method !== 'POST' || ++posts % 4 !== 1) return undefined;
      return {
        status: 401,
        body: {
          error: { code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' },
        },
        headers: { 'www-authenticate': 'Bearer realm=""' },
      };
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('leaves neither the client secret nor any bearer token in worker logs, Redis or reports', async () => {
    const trace = await stack.worker({ LOG_LEVEL: 'trace', GRAPH_BASE_URL: tap.graphBaseUrl });
    const debug = await stack.worker({ LOG_LEVEL: 'debug', GRAPH_BASE_URL: tap.graphBaseUrl });
    const rows = makeRows([stack.tenantId, randomUUID()], 2, 10);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 40_000);
    const status = await statusOf(stack, rolloutId);
    expect(status).toMatchObject({ state: 'finished', pending: 0 });

    // The rollout went through what it was meant to: 401s, faults, and tokens on the wire.
    const tokens = [
      ...new Set(tap.requests.map((r) => r.authorization?.replace(/^Bearer\s+/i, '')).filter((t): t is string => !!t)),
    ];
    expect(tokens.length).toBeGreaterThan(1);
    expect(tap.requests.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    const stats = await stack.control.stats();
    const faults = Object.values(stats.tenants).reduce((n, t) => n + t.faults.internalError + t.faults.reset, 0);
    expect(faults).toBeGreaterThan(0);
    expect(status.succeeded).toBeGreaterThan(0);
    const report = await reportOf(stack, rolloutId);
    expect(report).toHaveLength(rows.length);
    await expectTruthMatchesReport(stack, report);

    const secrets = [secret, ...tokens];
    expectNoSecrets('the trace-level worker log', trace.logs(), secrets);
    expectNoSecrets('the debug-level worker log', debug.logs(), secrets);
    expectNoSecrets('Redis', await dumpRedis(stack.redis, stack.prefix), secrets);
    expectNoSecrets('the JSON report', JSON.stringify(report), secrets);
    const csv = await stack.cli(['report', rolloutId, '--format', 'csv']);
    expectNoSecrets('the CSV report', csv.stdout + csv.stderr, secrets);
  });
});

describe('a client secret Entra ID refuses, logged at trace', () => {
  const right = `right~${randomUUID()}`;
  const wrong = `wrong~${randomUUID()}`;
  const stack = useStack({
    emulator: { clientSecret: right },
    env: { AZURE_CLIENT_SECRET: wrong, GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
  });

  it('names neither the wrong secret nor the right one in logs, Redis or the report', async () => {
    const worker = await stack.worker({ LOG_LEVEL: 'trace' });
    const rows = makeRows([stack.tenantId], 1, 10);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);
    await expectFinished(stack, rolloutId, rows.length, rows.length);
    await expectNoneAssigned(stack, rows);

    expectNoSecrets('the worker log', worker.logs(), [wrong, right]);
    expectNoSecrets('Redis', await dumpRedis(stack.redis, stack.prefix), [wrong, right]);
    expectNoSecrets('the JSON report', JSON.stringify(await reportOf(stack, rolloutId)), [wrong, right]);
    // A worker that cannot start also keeps quiet about the secret it was given.
    const bad = await stack.cli(['worker'], {
      env: { AZURE_CLIENT_SECRET: wrong, AZURE_CLIENT_ID: '', LOG_LEVEL: 'trace' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stdout + bad.stderr).not.toContain(wrong);
  });
});

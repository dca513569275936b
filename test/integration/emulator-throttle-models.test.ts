import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';
import { httpsCall, type HttpsAnswer, type HttpsCallInit } from '../support/https-call.js';

/**
 * Throttle models chosen per tenant, and the fault mix on GETs and token requests, over real HTTPS:
 * one tenant under a token bucket that signals with 503, the rest under the default sliding window
 * over writes, and a third tenant switched to a fixed window at run time through the control API.
 */

const BUCKET_TENANT = randomUUID();
const DEFAULT_TENANT = randomUUID();
const CLIENT = randomUUID();
const CONFIGURATION = randomUUID();
const ASSIGNMENT_TYPE = '#microsoft.graph.officeClientConfigurationAssignment';
const GROUP_TARGET_TYPE = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';

const certDir = mkdtempSync(join(tmpdir(), 'emulator-models-test-'));
let emulator: RunningEmulator;
let control: EmulatorControl;
let ca: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  emulator = await startEmulator({
    port: 0,
    certDir,
    // Lenient: tenants change per test and resets forget configurations; which exist is beside the point here.
    strictConfigurations: false,
    seed: 5,
    rateLimit: { max: 2, windowMs: 60_000 },
    tenantThrottle: { [BUCKET_TENANT]: { model: 'token-bucket', max: 3, windowMs: 60_000, signal: '503' } },
  });
  ca = readFileSync(emulator.caCertPath, 'utf8');
  control = new EmulatorControl(emulator.origin, emulator.caCertPath);
});

afterAll(async () => {
  await emulator?.close();
  rmSync(certDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await control.reset();
});

const call = (url: string, init?: HttpsCallInit): Promise<HttpsAnswer> => httpsCall(ca, url, init);

function requestToken(tenant: string): Promise<HttpsAnswer> {
  return call(`${emulator.origin}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: 'any',
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
  });
}

async function tokenFor(tenant: string): Promise<string> {
  const cached = tokens.get(tenant);
  if (cached) return cached;
  const answer = await requestToken(tenant);
  expect(answer.status).toBe(200);
  const token = answer.json.access_token as string;
  tokens.set(tenant, token);
  return token;
}

const assignmentsUrl = (): string =>
  `${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations/${CONFIGURATION}/assignments`;

async function list(tenant: string): Promise<HttpsAnswer> {
  return call(assignmentsUrl(), { headers: { authorization: `Bearer ${await tokenFor(tenant)}` } });
}

async function post(tenant: string): Promise<HttpsAnswer> {
  return call(assignmentsUrl(), {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(tenant)}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      '@odata.type': ASSIGNMENT_TYPE,
      target: { '@odata.type': GROUP_TARGET_TYPE, groupId: randomUUID() },
    }),
  });
}

describe('throttle models per tenant', () => {
  it('throttles the token-bucket tenant on reads with 503 and whole-second Retry-After, others stay on the sliding write window', async () => {
    for (let i = 0; i < 3; i += 1) expect((await list(BUCKET_TENANT)).status).toBe(200);
    const refused = await list(BUCKET_TENANT);
    expect(refused.status).toBe(503);
    expect((refused.json.error as { code: string }).code).toBe('ServiceUnavailable');
    // One token of 3 per 60 s takes 20 s to come back.
    expect(refused.headers['retry-after']).toBe('20');

    for (let i = 0; i < 5; i += 1) expect((await list(DEFAULT_TENANT)).status).toBe(200);
    expect((await post(DEFAULT_TENANT)).status).toBe(201);
    expect((await post(DEFAULT_TENANT)).status).toBe(201);
    const throttled = await post(DEFAULT_TENANT);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toMatch(/^\d+\.\d{3}$/);

    const stats = await control.stats(60_000);
    expect(stats.tenants[BUCKET_TENANT]).toMatchObject({
      reads: 3,
      throttled: 1,
      throttledByModel: { 'token-bucket': 1, 'sliding-writes': 0, 'fixed-window': 0 },
      maxRequestsInWindow: 3,
    });
    expect(stats.tenants[DEFAULT_TENANT]).toMatchObject({
      reads: 5,
      writesAccepted: 2,
      throttledByModel: { 'token-bucket': 0, 'sliding-writes': 1, 'fixed-window': 0 },
      maxRequestsInWindow: 7,
    });
  });

  it('puts a tenant under a fixed window with 429 without Retry-After through the control API, and back', async () => {
    const tenant = randomUUID();
    const set = await control.setTenantThrottle(tenant, {
      model: 'fixed-window',
      max: 1,
      windowMs: 60_000,
      signal: '429-no-retry-after',
    });
    expect(set.throttle).toEqual({ model: 'fixed-window', max: 1, windowMs: 60_000, signal: '429-no-retry-after' });
    expect((await post(tenant)).status).toBe(201);
    const throttled = await post(tenant);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBeUndefined();

    await control.setTenantThrottle(tenant, null);
    // Back under the global sliding window (2 per minute), which has seen none of its writes.
    expect((await post(tenant)).status).toBe(201);
    expect((await post(tenant)).status).toBe(201);
    expect((await post(tenant)).status).toBe(429);
  });

  it('a global throttle set through the control API applies to tenants without their own', async () => {
    await control.setThrottle({ model: 'token-bucket', max: 1, windowMs: 1000 });
    expect((await list(DEFAULT_TENANT)).status).toBe(200);
    const refused = await list(DEFAULT_TENANT);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    const settings = (await call(`${emulator.origin}/_emulator/settings`)).json;
    expect(settings).toMatchObject({ rateLimit: null, throttle: { model: 'token-bucket', max: 1, windowMs: 1000 } });
  });
});

describe('sentDuringRetryAfter', () => {
  it('counts requests of the counted kinds sent while a Retry-After holds, and none after a throttle answer without one', async () => {
    expect((await post(DEFAULT_TENANT)).status).toBe(201);
    expect((await post(DEFAULT_TENANT)).status).toBe(201);
    expect((await post(DEFAULT_TENANT)).status).toBe(429); // Retry-After close to 60 s
    for (let i = 0; i < 3; i += 1) expect((await list(BUCKET_TENANT)).status).toBe(200);
    expect((await list(BUCKET_TENANT)).headers['retry-after']).toBe('20');
    const quiet = randomUUID();
    await control.setTenantThrottle(quiet, {
      model: 'fixed-window',
      max: 1,
      windowMs: 60_000,
      signal: '429-no-retry-after',
    });
    expect((await post(quiet)).status).toBe(201);
    expect((await post(quiet)).status).toBe(429);
    // Well past the grace for requests already on the wire.
    await sleep(200);

    expect((await post(DEFAULT_TENANT)).status).toBe(429);
    expect((await list(DEFAULT_TENANT)).status).toBe(200); // the sliding window counts writes only
    expect((await list(BUCKET_TENANT)).status).toBe(503); // the token bucket counts reads too
    expect((await post(BUCKET_TENANT)).status).toBe(503);
    expect((await post(quiet)).status).toBe(429); // told to wait for nothing in particular

    const stats = (await control.stats()).tenants;
    expect(stats[DEFAULT_TENANT]?.sentDuringRetryAfter).toBe(1);
    expect(stats[BUCKET_TENANT]?.sentDuringRetryAfter).toBe(2);
    expect(stats[quiet]?.sentDuringRetryAfter).toBe(0);
  });
});

describe('fault mix on reads and token requests', () => {
  it('fails GETs with the read faults, counts them, and leaves POSTs alone', async () => {
    await tokenFor(DEFAULT_TENANT);
    await control.setReadFaults({ badGateway: 1 });
    const failed = await list(DEFAULT_TENANT);
    expect(failed.status).toBe(502);
    expect((failed.json.error as { code: string }).code).toBe('BadGateway');
    expect((await post(DEFAULT_TENANT)).status).toBe(201);

    await control.setReadFaults({ reset: 1 });
    await expect(list(DEFAULT_TENANT)).rejects.toThrow();

    await control.setReadFaults({ serviceUnavailableNoRetryAfter: 1 });
    const unavailable = await list(DEFAULT_TENANT);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBeUndefined();

    await control.setReadFaults({});
    expect((await list(DEFAULT_TENANT)).status).toBe(200);
    expect((await control.stats()).tenants[DEFAULT_TENANT]).toMatchObject({
      reads: 1,
      readFaults: { badGateway: 1, reset: 1, serviceUnavailableNoRetryAfter: 1 },
    });
  });

  it('fails token requests with the token faults, in Entra shape, and counts them', async () => {
    const tenant = randomUUID();
    await control.setTokenFaults({ serviceUnavailable: 1 });
    const unavailable = await requestToken(tenant);
    expect(unavailable.status).toBe(503);
    expect(unavailable.json.error).toBe('temporarily_unavailable');
    expect(unavailable.headers['retry-after']).toBe('1');

    await control.setTokenFaults({ gatewayTimeout: 1 });
    expect((await requestToken(tenant)).status).toBe(504);
    await control.setTokenFaults({ reset: 1 });
    await expect(requestToken(tenant)).rejects.toThrow();

    await control.setTokenFaults({});
    expect((await requestToken(tenant)).status).toBe(200);
    expect((await control.stats()).tenants[tenant]).toMatchObject({
      tokenRequests: 4,
      tokensIssued: 1,
      tokenFaults: { serviceUnavailable: 1, gatewayTimeout: 1, reset: 1 },
    });
  });

  it('refuses read fault rates that sum above 1, naming them', async () => {
    await expect(control.setReadFaults({ internalError: 0.7, badGateway: 0.7 })).rejects.toThrow(/read fault rates/);
  });
});

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, useStack, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap, type TapAnswer } from '../support/graph-tap.js';
import {
  enqueueRows,
  expectAllSucceeded,
  expectEachAssignedOnce,
  expectFinished,
  expectNoneAssigned,
  progressOf,
  reportOf,
  waitUntil,
} from '../support/rollout-checks.js';

/**
 * Entra ID is the other service a rollout depends on. While its token endpoint is down (503
 * temporarily_unavailable) the tenant's rows wait, spending no attempt, while one request per worker
 * probes the endpoint, and end succeeded once it is back; a client secret it
 * refuses is permanent, and rows fail at once with E_AUTH_REJECTED instead of retrying forever. A
 * token Graph refuses (401: expired, revoked) is replaced once, whichever request was refused.
 */
describe('a token endpoint outage at the start of a rollout', () => {
  const stack = useStack({ env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' } });

  it('holds the rows while no token can be had, then assigns each exactly once and fails none', async () => {
    const tenants = [stack.tenantId, randomUUID()];
    const rows = makeRows(tenants, 2, 10);
    await stack.control.createConfigurations(rows);
    await stack.control.setTokenOutage(true);
    await stack.worker();
    await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);

    // The workers are asking for tokens and being refused.
    await waitUntil('token requests during the outage', async () => {
      const stats = await stack.control.stats();
      return tenants.every((t) => (stats.tenants[t]?.tokenRequests ?? 0) > 0);
    });
    await sleep(3000);
    const during = await stack.control.stats();
    expect(tenants.map((t) => during.tenants[t]?.tokensIssued ?? 0)).toEqual([0, 0]);
    expect(await progressOf(stack, rolloutId)).toMatchObject({ done: 0 });
    await expectNoneAssigned(stack, rows);
    // One probe at a time per worker process, at most every 1.5 s (the endpoint asks for 1 s):
    // not one token request per row and retry.
    for (const t of tenants) expect(during.tenants[t]?.tokenRequests ?? 0).toBeLessThanOrEqual(2 * 5);

    await stack.control.setTokenOutage(false);
    await stack.waitFinished(rolloutId, 40_000);
    const report = await reportOf(stack, rolloutId);
    expectAllSucceeded(report, rows);
    // Waiting for a token spent no attempt: each row went to Graph once.
    expect(report.map((r) => r.attempts)).toEqual(rows.map(() => 1));
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
  });
});

describe('a client secret Entra ID refuses', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { clientSecret: 'right' },
      env: { AZURE_CLIENT_SECRET: 'wrong', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('fails every row with E_AUTH_REJECTED without retrying, and finishes the rollout', async () => {
    const tenants = [stack.tenantId, randomUUID()];
    const rows = makeRows(tenants, 2, 8);
    await stack.control.createConfigurations(rows);
    await stack.worker();
    await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);

    await expectFinished(stack, rolloutId, rows.length, rows.length);
    const report = await reportOf(stack, rolloutId);
    expect(report).toHaveLength(rows.length);
    for (const r of report) {
      expect(r).toMatchObject({ outcome: 'failed', code: 'E_AUTH_REJECTED', assignmentId: null });
      expect(r.errorCode).toBeTruthy();
    }
    await expectNoneAssigned(stack, rows);
    // Not retried: about one token request per row at most, none issued, nothing reached Graph.
    const stats = await stack.control.stats();
    for (const t of tenants) {
      const s = stats.tenants[t];
      expect(s?.tokensIssued ?? 0).toBe(0);
      expect(s?.tokenRequests ?? 0).toBeGreaterThan(0);
      expect(s?.tokenRequests ?? 0).toBeLessThanOrEqual(rows.filter((r) => r.tenantId === t).length);
      expect((s?.reads ?? 0) + (s?.writesAccepted ?? 0)).toBe(0);
    }
    expect(stats.unauthorized).toBe(0);
  });
});

describe('a token Graph refuses once', () => {
  let stack: Stack;
  let tap: GraphTap;
  const refused = new Set<string>();
  const unauthorized: TapAnswer = {
    status: 401,
    body: {
      error: { code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' },
    },
    headers: { 'www-authenticate': 'Bearer realm=""' },
  };
  beforeAll(async () => {
    stack = await startStack({ env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' } });
    // The first request of each kind (list, create) to each configuration is refused with 401.
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) => {
      const path = (req.url ?? '').split('?')[0]!;
      const kind = `${req.method} ${path}`;
      if (refused.has(kind)) return undefined;
      refused.add(kind);
      return unauthorized;
    });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('is replaced with a fresh one, on reads as on writes, and every row is assigned exactly once', async () => {
    const rows = makeRows([stack.tenantId, randomUUID()], 2, 6);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);

    const refusedReads = tap.requests.filter((r) => r.status === 401 && r.method === 'GET').length;
    const refusedWrites = tap.requests.filter((r) => r.status === 401 && r.method === 'POST').length;
    expect({ refusedReads, refusedWrites }).toEqual({ refusedReads: 4, refusedWrites: 4 });
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';
import {
  enqueueRows,
  expectAllSucceeded,
  expectEachAssignedOnce,
  expectFinished,
  progressOf,
  reportOf,
} from '../support/rollout-checks.js';

/**
 * Graph throttles per tenant (here: 5 writes per second). One tenant's big backlog, enqueued first,
 * must not hold up other tenants' small rollouts: each tenant has its own lane. With GRAPH_RATE_LIMIT
 * the workers together never exceed the limit as Graph counts it; without it they learn the pace
 * from Graph's 429s and still assign every row exactly once.
 */
const LIMIT = { max: 5, windowMs: 1000 };

describe('tenant lanes with GRAPH_RATE_LIMIT set to the tenant limit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { rateLimit: LIMIT },
      env: { GRAPH_RATE_LIMIT: '5/1s', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
    await stack.worker();
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes quiet tenants while a throttled tenant’s earlier backlog is still pending, and never exceeds the limit', async () => {
    const busy = randomUUID();
    const quiet = [randomUUID(), randomUUID()];
    const backlog = makeRows([busy], 2, 40);
    const small = makeRows(quiet, 1, 6);
    await stack.control.createConfigurations([...backlog, ...small]);
    const backlogId = await enqueueRows(stack, backlog);
    const smallId = await enqueueRows(stack, small);

    await stack.waitFinished(smallId, 30_000);
    const busyProgress = await progressOf(stack, backlogId);
    expect(
      busyProgress.pending,
      'the backlog, enqueued first, is still running when the quiet tenants are done',
    ).toBeGreaterThan(0);
    expectAllSucceeded(await reportOf(stack, smallId), small);
    await expectFinished(stack, smallId, small.length, 0);

    await stack.waitFinished(backlogId, 45_000);
    expectAllSucceeded(await reportOf(stack, backlogId), backlog);
    await expectFinished(stack, backlogId, backlog.length, 0);
    await expectEachAssignedOnce(stack, [...backlog, ...small]);

    const stats = await stack.control.stats(LIMIT.windowMs);
    for (const tenant of [busy, ...quiet]) {
      const s = stats.tenants[tenant];
      expect(s, `stats for tenant ${tenant}`).toBeDefined();
      expect({ tenant, maxWritesInWindow: s!.maxWritesInWindow, throttled: s!.throttled }).toEqual({
        tenant,
        maxWritesInWindow: expect.any(Number),
        throttled: 0,
      });
      expect(s!.maxWritesInWindow).toBeLessThanOrEqual(LIMIT.max);
    }
  });
});

describe('tenant lanes learning the limit from Graph (no GRAPH_RATE_LIMIT)', () => {
  let stack: Stack;
  let workers: WorkerHandle[];
  beforeAll(async () => {
    stack = await startStack({
      emulator: { rateLimit: LIMIT },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
    workers = [await stack.worker(), await stack.worker()];
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('assigns every row of a throttled backlog and of quiet tenants exactly once, failing none', async () => {
    const busy = randomUUID();
    const quiet = [randomUUID(), randomUUID()];
    const backlog: AssignmentRow[] = makeRows([busy], 2, 25);
    const small = makeRows(quiet, 1, 6);
    await stack.control.createConfigurations([...backlog, ...small]);
    const backlogId = await enqueueRows(stack, backlog);
    const smallId = await enqueueRows(stack, small);

    await stack.waitFinished(smallId, 30_000);
    await stack.waitFinished(backlogId, 45_000);
    await expectFinished(stack, smallId, small.length, 0);
    await expectFinished(stack, backlogId, backlog.length, 0);
    expectAllSucceeded(await reportOf(stack, smallId), small);
    expectAllSucceeded(await reportOf(stack, backlogId), backlog);
    await expectEachAssignedOnce(stack, [...backlog, ...small]);
    // Graph did throttle the busy tenant: this is the learning path, not a quiet run.
    const stats = await stack.control.stats();
    expect(stats.tenants[busy]?.throttled).toBeGreaterThan(0);
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  });
});

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap } from '../support/graph-tap.js';
import {
  enqueueRows,
  expectAllSucceeded,
  expectEachAssignedOnce,
  expectFinished,
  progressOf,
  reportOf,
  waitUntil,
} from '../support/rollout-checks.js';

/**
 * A worker process dies with SIGKILL while its rows are in flight (the emulator answers slowly, so
 * POSTs are on the wire, some already committed by Graph when the worker dies). Its rows keep their
 * BullMQ lock until WORKER_LOCK_MS runs out; another worker takes them over, looks before posting
 * again, and the rollout ends with every row assigned exactly once.
 */
describe('a worker killed mid-rollout', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack({
      emulator: { latencyMs: 250 },
      env: { WORKER_LOCK_MS: '3000', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', WORKER_CONCURRENCY: '6' },
    });
  });
  afterEach(async () => {
    await stack?.stop();
  });

  it('leaves its in-flight rows to a worker that was already running: all finish, none assigned twice', async () => {
    const rows = makeRows([stack.tenantId, randomUUID()], 3, 10);
    await stack.control.createConfigurations(rows);
    const victim = await stack.worker();
    const survivor = await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);

    // Some rows are done and more are in flight when the victim dies.
    await waitUntil('a few rows done', async () => (await progressOf(stack, rolloutId)).done >= 8, 30_000, 20);
    await victim.stop('SIGKILL');
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect((await progressOf(stack, rolloutId)).pending).toBeGreaterThan(0);

    await stack.waitFinished(rolloutId, 45_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
    expect(survivor.child.exitCode).toBeNull();
  });

  it('leaves its in-flight rows to a worker started after it died: all finish, none assigned twice', async () => {
    const rows = makeRows([stack.tenantId, randomUUID()], 3, 10);
    await stack.control.createConfigurations(rows);
    const victim = await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);

    await waitUntil('a few rows done', async () => (await progressOf(stack, rolloutId)).done >= 8, 30_000, 20);
    await victim.stop('SIGKILL');
    expect((await progressOf(stack, rolloutId)).pending).toBeGreaterThan(0);
    // The dead worker's rows are still `active` in BullMQ, locked by a process that is gone.
    expect(await stack.redis.llen(`${stack.prefix}:assignments:active`)).toBeGreaterThan(0);

    await stack.worker();
    await stack.waitFinished(rolloutId, 45_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
  });
});

describe('a worker killed while it reads a configuration for the rollout', () => {
  let stack: Stack;
  let tap: GraphTap;
  beforeEach(async () => {
    stack = await startStack({
      // Slow answers: the first read of the configuration is on the wire when the worker dies.
      emulator: { latencyMs: 1500 },
      env: { WORKER_LOCK_MS: '3000', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', GRAPH_TIMEOUT_MS: '5000' },
    });
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'));
  });
  afterEach(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('does not hold the configuration’s other rows back: a worker started after it finishes them all', async () => {
    const rows = makeRows([stack.tenantId], 1, 12);
    await stack.control.createConfigurations(rows);
    const victim = await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    const rolloutId = await enqueueRows(stack, rows);
    await waitUntil(
      'a read of the configuration on the wire',
      async () => tap.requests.some((r) => r.method === 'GET' && r.status === undefined),
      20_000,
      20,
    );
    await victim.stop('SIGKILL');
    expect((await progressOf(stack, rolloutId)).done).toBe(0);

    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    // Well within any claim's own expiry (minutes): a dead reader must not hold the rows back much
    // longer than WORKER_LOCK_MS.
    await stack.waitFinished(rolloutId, 40_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
  });
});

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';
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
 * SIGTERM (a deploy, a scale-in) stops a worker cleanly while its rows are in flight: it takes no new
 * rows, lets in-flight ones finish or hands them back at SHUTDOWN_TIMEOUT_MS, and exits 0 well within
 * the 30 s an orchestrator waits before SIGKILL. Another worker finishes the rollout, exactly once.
 */

/** Sends SIGTERM and waits at most 30 s for the exit: `timeout` when the worker is still there. */
async function terminate(
  worker: WorkerHandle,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'> {
  const exited = once(worker.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  worker.child.kill('SIGTERM');
  const outcome = await Promise.race([
    exited.then(([code, signal]) => ({ code, signal })),
    sleep(30_000).then(() => 'timeout' as const),
  ]);
  return outcome;
}

/** Active rows per worker, by the worker id in each job's lock token (`<workerId>:<n>`). */
async function activeRowsByWorker(stack: Stack): Promise<Map<string, number>> {
  const ids = await stack.redis.lrange(`${stack.prefix}:assignments:active`, 0, -1);
  const tokens = ids.length ? await stack.redis.mget(ids.map((id) => `${stack.prefix}:assignments:${id}:lock`)) : [];
  const held = new Map<string, number>();
  for (const token of tokens) {
    if (!token) continue;
    const workerId = token.slice(0, token.lastIndexOf(':'));
    held.set(workerId, (held.get(workerId) ?? 0) + 1);
  }
  return held;
}

describe('a worker stopped with SIGTERM mid-rollout', () => {
  let stack: Stack;
  afterEach(async () => {
    await stack?.stop();
  });

  it('exits 0 with rows in flight, and another worker finishes the rollout with each row assigned once', async () => {
    stack = await startStack({
      emulator: { latencyMs: 300 },
      env: { WORKER_LOCK_MS: '3000', GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', WORKER_CONCURRENCY: '6' },
    });
    const rows = makeRows([stack.tenantId, randomUUID()], 3, 10);
    await stack.control.createConfigurations(rows);
    const leaving = await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);
    await waitUntil(
      'rows done and more in flight',
      async () => {
        const done = (await progressOf(stack, rolloutId)).done >= 5;
        return done && (await stack.redis.llen(`${stack.prefix}:assignments:active`)) > 0;
      },
      30_000,
      20,
    );

    const exit = await terminate(leaving);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(leaving.logs()).toContain('worker stopped');
    expect((await progressOf(stack, rolloutId)).pending).toBeGreaterThan(0);

    await stack.worker();
    await stack.waitFinished(rolloutId, 45_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
  });

  it('hands rows still in flight at SHUTDOWN_TIMEOUT_MS back, exits 0, and a running worker finishes them exactly once', async () => {
    stack = await startStack({
      // Far slower than the shutdown deadline: in-flight rows cannot finish in time, even when a busy
      // machine is a second late sending SIGTERM after the rows started posting (1.5 s was not).
      emulator: { latencyMs: 4000 },
      env: {
        WORKER_LOCK_MS: '3000',
        SHUTDOWN_TIMEOUT_MS: '300',
        GRAPH_SETTLE_MS: '800',
        RETRY_BASE_DELAY_MS: '100',
        WORKER_CONCURRENCY: '6',
        GRAPH_TIMEOUT_MS: '10000',
      },
    });
    const rows = makeRows([stack.tenantId], 2, 10);
    await stack.control.createConfigurations(rows);
    const leaving = await stack.worker();
    // Started before the rows: starting it later would let the leaving worker's rows finish first.
    const staying = await stack.worker();
    const rolloutId = await enqueueRows(stack, rows);
    // Both workers hold rows, and every listing is read, so the rows they hold are posting (4 s
    // each), not parked for a moment behind the listing read: the leaving worker cannot finish them
    // within the deadline. (A count of active jobs alone can be all the staying worker's.)
    const configurations = [...new Set(rows.map((r) => r.configurationId))];
    await waitUntil(
      'rows posting on both workers',
      async () => {
        const listed = await Promise.all(
          configurations.map((c) => stack.redis.hget(`${stack.prefix}:listing:${stack.tenantId}:${c}`, '_status')),
        );
        if (listed.some((status) => status !== 'ok')) return false;
        const held = await activeRowsByWorker(stack);
        return held.size === 2 && [...held.values()].every((n) => n >= 2);
      },
      30_000,
      20,
    );

    const exit = await terminate(leaving);
    expect(exit).toEqual({ code: 0, signal: null });
    // The deadline path ran: rows were handed back, not finished in time.
    expect(leaving.logs()).toContain('shutdown deadline reached');
    expect(leaving.logs()).toContain('worker stopped');

    await stack.waitFinished(rolloutId, 75_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
    await expectEachAssignedOnce(stack, rows);
    expect(staying.child.exitCode).toBeNull();
  });
});

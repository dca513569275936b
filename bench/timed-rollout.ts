import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { EmulatorControl } from '../emulator/control-client.js';
import type { RunningEmulator } from '../emulator/emulator-server.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore, type RolloutStatus } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import { spawnReady, type ReadyChild } from './ready-child.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

export interface TimedRolloutOptions<S> {
  redis: Redis;
  redisUrl: string;
  emulator: RunningEmulator;
  rows: AssignmentRow[];
  processes: number;
  concurrency: number;
  /** Where worker i logs (`<logDir>/worker-<i>.log`). */
  logDir: string;
  /** Extra worker environment (GRAPH_RATE_LIMIT, LOG_LEVEL…). */
  env?: NodeJS.ProcessEnv;
  /** Read just before the queue is released and just after the last outcome (INFO commandstats…). */
  snapshot?: () => Promise<S>;
}

export interface TimedRollout<S> {
  seconds: number;
  status: RolloutStatus;
  duplicates: number;
  assignments: number;
  before: S | undefined;
  after: S | undefined;
}

/**
 * One rollout through real `assignments worker` processes, timed from releasing the queue to the
 * last outcome: the queue is paused while it fills and the workers start, so neither is in the time.
 * Fresh key prefix per call; the caller owns Redis and the emulator.
 */
export async function timedRollout<S>(o: TimedRolloutOptions<S>): Promise<TimedRollout<S>> {
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const queue = openQueue(o.redis, prefix);
  const store = new RolloutStore(o.redis, prefix, 3_600_000);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.emulator.env(o.rows[0]!.tenantId),
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: prefix,
    WORKER_CONCURRENCY: String(o.concurrency),
    GRAPH_RATE_LIMIT: '',
    LOG_LEVEL: 'info',
    ...o.env,
  };
  const workers: ReadyChild[] = [];
  try {
    await queue.pause();
    const { rolloutId } = await enqueueRollout(
      { rows: o.rows, lines: [], inputRows: o.rows.length, duplicateRows: 0, format: 'csv' },
      { queue, store },
      { source: 'bench' },
    );
    for (let i = 0; i < o.processes; i++)
      workers.push(
        await spawnReady([BIN, 'worker'], env, 'worker started', join(o.logDir, `${prefix}-worker-${i + 1}.log`)),
      );
    const before = await o.snapshot?.();
    const started = performance.now();
    await queue.resume();
    let status: RolloutStatus | null = null;
    for (;;) {
      status = await store.status(rolloutId);
      if (status && status.state !== 'running') break;
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.stderrTail()}`);
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await o.snapshot?.();
    const truth = await new EmulatorControl(o.emulator.origin, o.emulator.caCertPath).truth();
    return { seconds, status, duplicates: truth.duplicates, assignments: truth.assignments, before, after };
  } finally {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queue.close();
  }
}

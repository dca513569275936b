import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { EmulatorControl } from '../emulator/control-client.js';
import type { RunningEmulator } from '../emulator/emulator-server.js';
import type { StatsSnapshot } from '../emulator/emulator-stats.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore, type RolloutStatus } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import { createConfigurations } from './bench-emulator.js';
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
  /**
   * Started (not awaited) right after the queue is released, and awaited before the result is
   * returned: what the scenario does to Graph while the rollout runs (end a token outage 6 s in…).
   */
  onRelease?: () => Promise<void>;
  /** Fails the run when no row has ended for this long (default 120 s). */
  stallMs?: number;
  /** The window of the emulator's `maxWritesInWindow` in `stats` (default 1000 ms). */
  statsWindowMs?: number;
  /**
   * Waits this long after the last outcome before reading the truth, so that writes Graph commits
   * late (slow commits) are in it: a duplicate they make shows only then. Not in `seconds`.
   */
  truthAfterMs?: number;
}

export interface TimedRollout<S> {
  seconds: number;
  status: RolloutStatus;
  /** Per tenant: seconds from releasing the queue until its last row ended (sampled every 20 ms). */
  tenantSeconds: Record<string, number>;
  /** Failed rows, by tenant and the codes of their outcome. */
  failures: { tenantId: string; code: string; errorCode: string; rows: number }[];
  /** The emulator's counters after the run, with `maxWritesInWindow` over `statsWindowMs`. */
  stats: StatsSnapshot;
  duplicates: number;
  assignments: number;
  before: S | undefined;
  after: S | undefined;
}

/**
 * One rollout through real `assignments worker` processes, timed from releasing the queue to the
 * last outcome: the queue is paused while it fills and the workers start, so neither is in the time.
 * The rows' configurations are created through the emulator's control API first (see
 * createConfigurations). Fresh key prefix per call; the caller owns Redis and the emulator.
 */
export async function timedRollout<S>(o: TimedRolloutOptions<S>): Promise<TimedRollout<S>> {
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const queue = openQueue(o.redis, prefix);
  const store = new RolloutStore(o.redis, prefix, 3_600_000);
  const control = new EmulatorControl(o.emulator.origin, o.emulator.caCertPath);
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
  let during: Promise<void> | undefined;
  try {
    await createConfigurations(control, o.rows);
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
    during = o.onRelease?.();
    // Seen by the loop, so a failing hook ends the run at once rather than after it.
    let hookError: unknown;
    during?.catch((error: unknown) => (hookError = error));
    const tenantSeconds: Record<string, number> = {};
    let status: RolloutStatus | null = null;
    let ended = -1;
    let progressAt = started;
    for (;;) {
      status = await store.status(rolloutId);
      const now = performance.now();
      if (status) {
        for (const t of status.tenants)
          if (t.pending === 0 && t.total > 0) tenantSeconds[t.tenantId] ??= (now - started) / 1000;
        if (status.state !== 'running') break;
        const endedNow = status.succeeded + status.failed + status.cancelled;
        if (endedNow !== ended) [ended, progressAt] = [endedNow, now];
      }
      if (hookError !== undefined) throw hookError;
      if (now - progressAt > (o.stallMs ?? 120_000))
        throw new Error(`rollout stalled at ${ended}/${o.rows.length} rows; worker logs in ${o.logDir}`);
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.stderrTail()}`);
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    if (!status) throw new Error(`rollout ${rolloutId} vanished`);
    const after = await o.snapshot?.();
    await during;
    if (o.truthAfterMs) await sleep(o.truthAfterMs);
    const truth = await control.truth();
    return {
      seconds,
      status,
      tenantSeconds,
      failures: status.failed > 0 ? await failuresOf(store, rolloutId) : [],
      stats: await control.stats(o.statsWindowMs ?? 1000),
      duplicates: truth.duplicates,
      assignments: truth.assignments,
      before,
      after,
    };
  } finally {
    await during?.catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queue.close();
  }
}

async function failuresOf(store: RolloutStore, rolloutId: string): Promise<TimedRollout<unknown>['failures']> {
  const counts = new Map<string, TimedRollout<unknown>['failures'][number]>();
  for await (const { outcome } of store.outcomes(rolloutId)) {
    if (outcome?.outcome !== 'failed') continue;
    const code = outcome.code ?? '?';
    const errorCode = outcome.errorCode ?? '?';
    const key = `${outcome.tenantId} ${code} ${errorCode}`;
    const entry = counts.get(key) ?? { tenantId: outcome.tenantId, code, errorCode, rows: 0 };
    entry.rows += 1;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

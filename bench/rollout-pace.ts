import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { createConfigurations, startBenchEmulator } from './bench-emulator.js';
import type { RetryAfterFormat } from '../emulator/emulator-options.js';
import type { ThrottleSpec } from '../emulator/throttle-model.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

export interface PaceResult {
  label: string;
  rows: number;
  seconds: number;
  idealSeconds: number;
  /** ideal / actual: 1.0 is the ideal pace. */
  ratioToIdeal: number;
  throttled: number;
  /**
   * The most requests the emulator's model counts inside any sliding window of `windowMs`: accepted
   * writes for `sliding-writes` and `fixed-window`, answered GETs plus accepted writes for
   * `token-bucket` (`maxRequestsInWindow`). A fixed window or a token bucket can rightly admit up to
   * twice `max` in a sliding window.
   */
  maxWritesInWindow: number;
  /** What `maxWritesInWindow` counts. */
  windowCounts: 'writes' | 'requests';
  /** The emulator's throttle model and signal. */
  model: string;
  signal: string;
  configured: boolean;
  /** Graph GETs answered for the tenant (a token bucket charges them to the same budget). */
  reads: number;
  duplicates: number;
  failed: number;
  /** From enqueue to the emulator's first accepted write (worker pick-up, token, the listing read). */
  firstWriteSeconds: number;
  /** From the last accepted write to the rollout's last outcome. */
  tailSeconds: number;
  /** Accepted writes per second between the first and the last: the lane's steady pace. */
  steadyWritesPerSecond: number;
  /**
   * Requests the tenant sent while a Retry-After it had been given was still running (the emulator's
   * `sentDuringRetryAfter`); undefined where the emulator does not count them yet.
   */
  sentDuringRetryAfter: number | undefined;
}

/**
 * The ideal time of `rows` rows under a budget of `max` per `windowMs`: the first window's worth at
 * once, then `max` per window. For a token bucket of burst `max` refilled at `max` per window, the same.
 */
export function idealSeconds(rows: number, max: number, windowMs: number): number {
  return (Math.max(0, rows - max) / max) * (windowMs / 1000);
}

/**
 * One tenant, `rows` rows, an emulator that allows `max` writes per `windowMs`, two worker processes:
 * how long the rollout takes against the ideal (rows / rate), with and without GRAPH_RATE_LIMIT.
 */
export async function rolloutPace(options: {
  rows: number;
  max: number;
  windowMs: number;
  configured: boolean;
  workers?: number;
  retryAfterFormat?: RetryAfterFormat;
  /**
   * The emulator's throttle (model, budget, signal), passed instead of `rateLimit`; `max` and
   * `windowMs` should be its budget. Default: `rateLimit` (sliding writes, 429).
   */
  throttle?: ThrottleSpec;
}): Promise<PaceResult> {
  const model = options.throttle?.model ?? 'sliding-writes';
  const signal = options.throttle?.signal ?? '429';
  const redisServer = await startLocalRedis();
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-'));
  const { emulator, control } = await startBenchEmulator(dir, {
    ...(options.throttle
      ? { throttle: options.throttle }
      : { rateLimit: { max: options.max, windowMs: options.windowMs } }),
    retryAfterFormat: options.retryAfterFormat,
  });
  const tenantId = randomUUID();
  const prefix = `bench${randomUUID().slice(0, 6)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...emulator.env(tenantId),
    REDIS_URL: redisServer.url,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '16',
    ...(options.configured ? { GRAPH_RATE_LIMIT: `${options.max}/${options.windowMs}ms` } : { GRAPH_RATE_LIMIT: '' }),
  };
  const workers: ChildProcess[] = [];
  const redis = new Redis(redisServer.url);
  try {
    for (let i = 0; i < (options.workers ?? 2); i++) {
      const child = spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      workers.push(child);
      while (!log.includes('worker started') && child.exitCode === null) await sleep(20);
    }
    const configurationId = randomUUID();
    const rows = Array.from({ length: options.rows }, () => ({ tenantId, configurationId, groupId: randomUUID() }));
    await createConfigurations(control, rows);
    const queue = openQueue(redis, prefix);
    const store = new RolloutStore(redis, prefix, 3600_000);
    const started = Date.now();
    const { rolloutId } = await enqueueRollout(
      { rows, lines: [], inputRows: rows.length, duplicateRows: 0, format: 'csv' },
      { queue, store },
      { source: 'bench' },
    );
    let status = await store.status(rolloutId);
    // Sampled every 100 ms: when Graph saw the first and the last write, to tell start-up from pace.
    let firstWriteAt: number | undefined;
    let lastWriteAt = started;
    let lastWrites = 0;
    let sampledAt = 0;
    const sample = async () => {
      const writes = (await control.stats()).tenants[tenantId]?.writesAccepted ?? 0;
      if (writes > 0) firstWriteAt ??= Date.now();
      if (writes > lastWrites) lastWriteAt = Date.now();
      lastWrites = writes;
      sampledAt = Date.now();
    };
    while (status && status.state !== 'finished') {
      await sleep(25);
      if (Date.now() - sampledAt >= 100) await sample();
      status = await store.status(rolloutId);
      if (process.env.BENCH_TRACE && Date.now() % 1000 < 30) {
        const lane = await redis.hgetall(`${prefix}:lane:${tenantId}`);
        const counts = await queue.getJobCounts('wait', 'active', 'delayed');
        const scheduled = await redis.zcount(`${prefix}:lane:${tenantId}:schedule`, Date.now(), '+inf');
        // Delayed jobs whose time has come but that BullMQ has not promoted yet (scores are ms * 0x1000).
        const overdue = await redis.zcount(`${prefix}:assignments:delayed`, 0, (Date.now() - 100) * 0x1000);
        const writes = (await control.stats()).tenants[tenantId]?.writesAccepted ?? 0;
        console.error(
          ((Date.now() - started) / 1000).toFixed(1),
          'pending',
          status?.pending,
          'writes',
          writes,
          'budget',
          `${lane.max ?? '-'}/${Math.round(Number(lane.window ?? 0))}ms`,
          'paused-for',
          Math.max(0, Number(lane.pausedUntil ?? 0) - Date.now()),
          'promised',
          scheduled,
          'overdue>100ms',
          overdue,
          JSON.stringify(counts),
        );
      }
    }
    const finishedAt = Date.now();
    const seconds = (finishedAt - started) / 1000;
    await sample();
    await queue.close();
    const stats = await control.stats(options.windowMs);
    const t = stats.tenants[tenantId];
    const truth = await control.truth();
    // The ideal: the first window's worth goes at once, then `max` per window. For the token bucket the
    // same figure, (rows − burst) / rate with burst = max and rate = max per windowMs; it leaves out that
    // the bucket charges the rollout's listing reads (GETs) to the same budget, so no run can reach it.
    const ideal = idealSeconds(options.rows, options.max, options.windowMs);
    const windowCounts = model === 'token-bucket' ? 'requests' : 'writes';
    return {
      label:
        `${model} ${signal}: ` +
        (options.configured
          ? `GRAPH_RATE_LIMIT=${options.max}/${options.windowMs}ms`
          : 'learned (no GRAPH_RATE_LIMIT)') +
        (options.retryAfterFormat === 'none' ? ', no Retry-After' : ''),
      model,
      signal,
      configured: options.configured,
      rows: options.rows,
      seconds,
      idealSeconds: ideal,
      ratioToIdeal: ideal / seconds,
      throttled: t?.throttled ?? 0,
      maxWritesInWindow: (windowCounts === 'requests' ? t?.maxRequestsInWindow : t?.maxWritesInWindow) ?? 0,
      windowCounts,
      reads: t?.reads ?? 0,
      duplicates: truth.duplicates,
      failed: status?.failed ?? -1,
      firstWriteSeconds: ((firstWriteAt ?? finishedAt) - started) / 1000,
      tailSeconds: Math.max(0, finishedAt - lastWriteAt) / 1000,
      steadyWritesPerSecond:
        (t?.writesAccepted ?? 0) /
        Math.max(0.001, (Math.min(lastWriteAt, finishedAt) - (firstWriteAt ?? started)) / 1000),
      sentDuringRetryAfter: t?.sentDuringRetryAfter,
    };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
  }
}

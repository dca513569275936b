import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { EmulatorControl } from '../emulator/control-client.js';
import { startEmulator } from '../emulator/emulator-server.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { openQueue, QUEUE_NAME } from '../lib/queues/assignment-queue.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { RolloutStore, type RolloutStatus } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import { spawnReady, type ReadyChild } from './ready-child.js';
import { redisInfo } from './redis-info.js';
import { syntheticRows } from './synthetic-rows.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

/** Bytes Redis reports for the keys of one kind (MEMORY USAGE, every element counted). */
export interface KeyGroup {
  group: string;
  keys: number;
  bytes: number;
}

export interface RedisFootprintResult {
  rows: number;
  processes: number;
  concurrency: number;
  /** Seconds from enqueue to the last outcome. */
  seconds: number;
  status: RolloutStatus;
  duplicates: number;
  /** INFO memory used_memory with the workers connected and the queue empty. */
  usedMemoryEmpty: number;
  /** The same once the rollout finished and BullMQ removed its jobs. */
  usedMemoryFinished: number;
  /** Jobs BullMQ still held when measured (should be 0: finished jobs are removed at once). */
  jobsLeft: number;
  groups: KeyGroup[];
}

/**
 * What a finished rollout leaves in Redis, per row: `rows` rows run to completion by real worker
 * processes against an emulator that answers at once, then `used_memory` against the same Redis
 * before the rollout, and MEMORY USAGE of every key under the prefix, grouped by kind. Finished jobs
 * are removed by BullMQ, so what remains is outcomes and bookkeeping, not job bodies.
 */
export async function redisFootprint(options: {
  rows: number;
  processes: number;
  concurrency: number;
}): Promise<RedisFootprintResult> {
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-footprint-'));
  // Lenient: the synthetic rows' configurations exist on first use, as when the committed results were measured.
  const emulator = await startEmulator({ port: 0, certDir: join(dir, 'emulator'), strictConfigurations: false });
  const control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  const tenants = [randomUUID(), randomUUID()];
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...emulator.env(tenants[0]),
    REDIS_URL: redisServer.url,
    QUEUE_PREFIX: prefix,
    WORKER_CONCURRENCY: String(options.concurrency),
    GRAPH_RATE_LIMIT: '',
    // The default; "worker started", which readiness is read from, is an info line.
    LOG_LEVEL: 'info',
  };
  const workers: ReadyChild[] = [];
  const queue = openQueue(redis, prefix);
  try {
    for (let i = 0; i < options.processes; i++)
      workers.push(await spawnReady([BIN, 'worker'], env, 'worker started', join(dir, `worker-${i + 1}.log`)));
    const rows = syntheticRows(options.rows, { tenants, configurations: 10 });
    await queue.waitUntilReady();
    const usedMemoryEmpty = await usedMemory(redis);

    const store = new RolloutStore(redis, prefix, 3_600_000);
    const started = performance.now();
    const { rolloutId } = await enqueueRollout(
      { rows, lines: [], inputRows: rows.length, duplicateRows: 0, format: 'csv' },
      { queue, store },
      { source: 'bench' },
    );
    let status = await store.status(rolloutId);
    while (status?.state === 'running') {
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.stderrTail()}`);
      await sleep(250);
      status = await store.status(rolloutId);
    }
    const seconds = (performance.now() - started) / 1000;
    if (!status) throw new Error(`rollout ${rolloutId} vanished`);

    // The last jobs are removed just after their outcome is recorded.
    let jobsLeft = Infinity;
    for (let i = 0; i < 100 && jobsLeft > 0; i++) {
      jobsLeft = Object.values(
        await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
      ).reduce((a, n) => a + n, 0);
      if (jobsLeft > 0) await sleep(100);
    }
    const usedMemoryFinished = await usedMemory(redis);
    const groups = await keyGroups(redis, prefix, rolloutId);
    const truth = await control.truth();
    // Logs and certificate are only worth keeping when something went wrong.
    rmSync(dir, { recursive: true, force: true });
    return {
      rows: options.rows,
      processes: options.processes,
      concurrency: options.concurrency,
      seconds,
      status,
      duplicates: truth.duplicates,
      usedMemoryEmpty,
      usedMemoryFinished,
      jobsLeft,
      groups,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queue.close();
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number((await redisInfo(redis, 'memory')).get('used_memory'));
}

/** Every key under the prefix, by kind, with MEMORY USAGE … SAMPLES 0 (all elements, exact). */
async function keyGroups(redis: Redis, prefix: string, rolloutId: string): Promise<KeyGroup[]> {
  const rollout = `${prefix}:rollout:${rolloutId}`;
  const kinds: [string, (key: string) => boolean][] = [
    ['rollout: outcomes (hash)', (k) => k === `${rollout}:outcomes`],
    ['rollout: row list', (k) => k === `${rollout}:rows`],
    ['rollout: attempt counts (hash)', (k) => k === `${rollout}:attempts`],
    ['rollout: record and other rollout keys', (k) => k.startsWith(rollout) || k === `${prefix}:rollouts`],
    ['row markers (one string per row)', (k) => k.startsWith(`${prefix}:marker:`)],
    ['configuration listings (1 h TTL)', (k) => k.startsWith(`${prefix}:listing:`)],
    ['tenant lanes', (k) => k.startsWith(`${prefix}:lane:`)],
    ['BullMQ (events stream, meta; no jobs)', (k) => k.startsWith(`${prefix}:${QUEUE_NAME}:`)],
    ['other', () => true],
  ];
  const groups = new Map<string, KeyGroup>(kinds.map(([group]) => [group, { group, keys: 0, bytes: 0 }]));
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const [err, bytes] = sizes[i] ?? [null, 0];
      if (err) throw err;
      const group = groups.get(kinds.find(([, matches]) => matches(key))![0])!;
      group.keys++;
      group.bytes += Number(bytes ?? 0);
    });
  } while (cursor !== '0');
  return [...groups.values()].filter((g) => g.keys > 0);
}

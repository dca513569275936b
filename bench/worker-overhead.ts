import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { EmulatorControl } from '../emulator/control-client.js';
import type { RunningEmulator } from '../emulator/emulator-server.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import { rowJobs } from '../producer/row-jobs.js';
import { createConfigurations, startBenchEmulator } from './bench-emulator.js';
import { processCpuSeconds } from './process-cpu.js';
import { median } from './results.js';
import { spawnReady, type ReadyChild } from './ready-child.js';
import { redisWork } from './redis-info.js';
import { syntheticRows } from './synthetic-rows.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));
const BARE_WORKER = fileURLToPath(new URL('./bare-worker.js', import.meta.url));

export interface WorkerOverheadOptions {
  rows: number;
  /** Worker processes, for the pipeline and the baseline alike. */
  processes: number;
  /** WORKER_CONCURRENCY of each process, for both. */
  concurrency: number;
  tenants: number;
  /** Configurations per tenant (default 10). */
  configurations?: number;
  repeats: number;
  /** LOG_LEVEL of the real workers. */
  logLevel: string;
  /** When set, every worker runs under `--cpu-prof` and writes its profile under `<dir>/<kind>-<run>/`. */
  cpuProfileDir?: string;
}

/**
 * Where a worker's CPU goes (see cpuByConcern; a sample counts for the first concern any frame of
 * its stack matches): our pipeline's own steps first, then the libraries both kinds of worker share.
 * Frames read `functionName url:line`, urls from node_modules/ or dist/ on.
 */
export const WORKER_CPU_CONCERNS: [string, RegExp][] = [
  ['logging (pino, its redaction, sonic-boom writes)', /pino|sonic-boom/],
  [
    'outcome record (RolloutStore.record and its Lua call)',
    /^record (lib\/rollout\/rollout-store|worker\/assignment-processor)/,
  ],
  ['tenant lane (admit, gate, pacing)', /worker\/(tenant-lanes|lane-gate|lane-pacing)|^once worker\/lane-bound-graph/],
  [
    'pre-checks (outcome, marker, listing reads)',
    /^run worker\/assignment-processor|worker\/(configuration-listing|row-marker)/,
  ],
  [
    'Graph request (got, http, TLS)',
    /(^| )(got|p-cancelable|cacheable-request|http2-wrapper|@szmarczak)\/|node:_http_|node:https|node:_tls|lib\/graph\//,
  ],
  ['BullMQ', / (bullmq|msgpackr)\//],
  ['Redis client (ioredis)', / (ioredis|redis-parser|denque|cluster-key-slot)\//],
  ['garbage collector', /^\(garbage collector\)/],
];

/** One timed run: from releasing the queue to the last outcome (pipeline) or an empty queue (bare). */
export interface OverheadRun {
  seconds: number;
  /** CPU seconds of the worker processes during the run (not their start-up); undefined without /proc. */
  workerCpuSeconds: number | undefined;
  /** CPU seconds of redis-server during the run. */
  redisCpuSeconds: number;
  /** Commands redis-server executed during the run (a Lua script counts as one, plus what it calls). */
  redisCommands: number;
  /** CPU seconds of this process during the run: the emulator, mostly. */
  emulatorCpuSeconds: number;
}

export interface WorkerOverheadResult extends Omit<WorkerOverheadOptions, 'cpuProfileDir'> {
  /** Real workers, one entry per run. */
  pipeline: OverheadRun[];
  /** Bare BullMQ workers, one entry per run. */
  bare: OverheadRun[];
  /** Directories holding each run's profiles, when profiling. */
  profileDirs: { pipeline: string[]; bare: string[] };
  /** Workers that did not stop cleanly (a profile is only written by a clean exit). */
  warnings: string[];
}

/**
 * The cost of the pipeline around the POST: real `assignments worker` processes taking `rows` rows to
 * outcomes against an emulator that answers at once (no limit, no latency, no faults), against the
 * same number of bare BullMQ worker processes (bench/bare-worker.ts) making the same POSTs for the
 * same jobs at the same concurrency. Each run gets a fresh emulator and key prefix; the queue is paused
 * while it fills and the workers start, so the clock covers only the processing. Runs alternate.
 */
export async function workerOverhead(options: WorkerOverheadOptions): Promise<WorkerOverheadResult> {
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-overhead-'));
  const { cpuProfileDir, ...shape } = options;
  const result: WorkerOverheadResult = {
    ...shape,
    pipeline: [],
    bare: [],
    profileDirs: { pipeline: [], bare: [] },
    warnings: [],
  };
  const tenants = Array.from({ length: options.tenants }, () => randomUUID());
  try {
    for (let run = 0; run < options.repeats; run++) {
      // Alternate which goes first, so neither always runs on a warmer machine.
      const kinds = run % 2 === 0 ? (['pipeline', 'bare'] as const) : (['bare', 'pipeline'] as const);
      for (const kind of kinds) {
        const rows = syntheticRows(options.rows, { tenants, configurations: options.configurations ?? 10 });
        const profileDir = cpuProfileDir === undefined ? undefined : join(cpuProfileDir, `${kind}-${run + 1}`);
        if (profileDir) {
          mkdirSync(profileDir, { recursive: true });
          result.profileDirs[kind].push(profileDir);
        }
        const { emulator, control } = await startBenchEmulator(dir);
        try {
          await createConfigurations(control, rows);
          const logPrefix = join(dir, `${kind}-${run + 1}`);
          result[kind].push(
            await timedRun(kind, {
              redis,
              redisUrl: redisServer.url,
              emulator,
              rows,
              options,
              profileDir,
              logPrefix,
              warnings: result.warnings,
            }),
          );
        } finally {
          await emulator.close();
        }
      }
    }
    // Logs and certificate are only worth keeping when something went wrong.
    rmSync(dir, { recursive: true, force: true });
    return result;
  } finally {
    redis.disconnect();
    await redisServer.stop();
  }
}

interface RunContext {
  redis: Redis;
  redisUrl: string;
  emulator: RunningEmulator;
  rows: AssignmentRow[];
  options: WorkerOverheadOptions;
  profileDir: string | undefined;
  /** Worker i logs to `<logPrefix>-worker-<i>.log`. */
  logPrefix: string;
  warnings: string[];
}

async function timedRun(kind: 'pipeline' | 'bare', ctx: RunContext): Promise<OverheadRun> {
  const { redis, emulator, rows, options } = ctx;
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const queue = openQueue(redis, prefix);
  const store = new RolloutStore(redis, prefix, 3_600_000);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...emulator.env(rows[0]!.tenantId),
    REDIS_URL: ctx.redisUrl,
    QUEUE_PREFIX: prefix,
    WORKER_CONCURRENCY: String(options.concurrency),
    GRAPH_RATE_LIMIT: '',
    LOG_LEVEL: options.logLevel,
  };
  const profiling = ctx.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`];
  const workers: ReadyChild[] = [];
  try {
    await queue.pause();
    let rolloutId = '';
    if (kind === 'pipeline') {
      ({ rolloutId } = await enqueueRollout(
        { rows, lines: [], inputRows: rows.length, duplicateRows: 0, format: 'csv' },
        { queue, store },
        { source: 'bench' },
      ));
    } else {
      rolloutId = randomUUID();
      for (let start = 0; start < rows.length; start += 1000)
        await queue.addBulk(rowJobs(rolloutId, start, rows.slice(start, start + 1000)));
    }
    for (let i = 0; i < options.processes; i++) {
      workers.push(
        kind === 'pipeline'
          ? await spawnReady(
              [...profiling, BIN, 'worker'],
              env,
              'worker started',
              `${ctx.logPrefix}-worker-${i + 1}.log`,
            )
          : await spawnReady(
              [...profiling, BARE_WORKER],
              env,
              'bare worker started',
              `${ctx.logPrefix}-worker-${i + 1}.log`,
            ),
      );
    }

    const workerCpu = () => sum(workers.map((w) => processCpuSeconds(w.child.pid)));
    const before = { worker: workerCpu(), redis: await redisWork(redis), self: process.cpuUsage() };
    const started = performance.now();
    await queue.resume();
    for (;;) {
      if (kind === 'pipeline') {
        // One field per poll, the full status (every tenant's counters and lane) once at the end:
        // the poll's own Redis commands and CPU are counted with the run's, and they must not grow
        // with the tenant count.
        const status =
          (await redis.hexists(store.keys.rollout(rolloutId), 'finishedAt')) === 1
            ? await store.status(rolloutId)
            : null;
        if (status && status.state !== 'running') {
          if (status.succeeded !== rows.length) throw new Error(`pipeline: ${JSON.stringify(status)}`);
          break;
        }
      } else {
        const counts = await queue.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'waiting-children',
          'failed',
        );
        if (counts.failed)
          throw new Error(`bare: ${counts.failed} jobs failed: ${workers.map((w) => w.stderrTail()).join('\n')}`);
        if (Object.values(counts).every((n) => n === 0)) break;
      }
      for (const w of workers)
        if (w.child.exitCode !== null) throw new Error(`a ${kind} worker exited: ${w.stderrTail()}`);
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    const self = process.cpuUsage(before.self);
    const after = { worker: workerCpu(), redis: await redisWork(redis) };
    const run: OverheadRun = {
      seconds,
      workerCpuSeconds:
        after.worker === undefined || before.worker === undefined ? undefined : after.worker - before.worker,
      redisCpuSeconds: after.redis.cpuSeconds - before.redis.cpuSeconds,
      redisCommands: after.redis.commands - before.redis.commands,
      emulatorCpuSeconds: (self.user + self.system) / 1e6,
    };

    const truth = await new EmulatorControl(emulator.origin, emulator.caCertPath).truth();
    if (truth.assignments !== rows.length || truth.duplicates !== 0) {
      throw new Error(
        `${kind}: the emulator holds ${truth.assignments} assignments (${truth.duplicates} duplicates) for ${rows.length} rows`,
      );
    }
    return run;
  } finally {
    // SIGTERM: a graceful stop, which is also when --cpu-prof writes the profile.
    const exits = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    exits.forEach((exit, i) => {
      if (exit !== 'exit 0')
        ctx.warnings.push(`${kind} worker ${i + 1} stopped with ${exit}: ${workers[i]!.stderrTail().slice(-300)}`);
    });
    await queue.close();
    await deleteKeys(redis, prefix);
  }
}

/**
 * Median CPU seconds per row of a side's runs, workers, Redis and emulator together; undefined
 * without /proc. On a machine this small the three share the cores, so CPU per row predicts the
 * jobs/s ratio and varies far less between runs than wall-clock time does (most of all on a shared
 * machine).
 */
export function allCpuPerRow(runs: OverheadRun[], rows: number): number | undefined {
  const totals = runs.map((x) =>
    x.workerCpuSeconds === undefined ? undefined : x.workerCpuSeconds + x.redisCpuSeconds + x.emulatorCpuSeconds,
  );
  return totals.some((v) => v === undefined) ? undefined : median(totals as number[]) / rows;
}

/** The sum, or undefined if any part is unknown. */
function sum(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : values.reduce<number>((a, v) => a + (v ?? 0), 0);
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

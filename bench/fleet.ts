import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatorControl } from '../emulator/control-client.js';
import { startEmulator } from '../emulator/emulator-server.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { RedisKeys } from '../lib/redis/redis-keys.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import { processCpuSeconds } from './process-cpu.js';
import { spawnReady, type ReadyChild } from './ready-child.js';
import { redisWork } from './redis-info.js';
import { syntheticRows } from './synthetic-rows.js';
import { writeResult } from './results.js';
import { writeThroughputSvg } from './plot.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

/**
 * Each tenant's emulator budget. Intune's real one is about 100 writes per 20 s (5/s); 25/s is five
 * times that so that a few hundred tenants already ask for more than two cores can do (500 × 25 =
 * 12,500/s): the fleet benchmark is about where the machine, not Graph, ends scaling.
 */
export const FLEET_BUDGET = { max: 25, windowMs: 1000 };

/**
 * Per worker process. Lanes park rows that must wait in the delayed set, so a slot is only held for
 * the Redis work and the POST; 64 is what the worker-overhead benchmark found enough to keep a
 * process busy against an emulator that answers at once.
 */
export const FLEET_CONCURRENCY = 64;

/** How often the run is sampled; also what bounds the steady window's precision. */
const SAMPLE_MS = 250;

export interface FleetRunOptions {
  tenants: number;
  rowsPerTenant: number;
  processes: number;
}

/** Averages over the steady window, in cores (CPU seconds per wall second). */
export interface CpuCores {
  /** All worker processes together. */
  workers: number;
  /** The busiest worker process (a Node process's JavaScript runs on one core). */
  busiestWorker: number;
  /** redis-server (one thread runs every command). */
  redis: number;
  /** This process: the emulator, and the sampling, which is small. */
  emulator: number;
  /** The whole machine, from /proc/stat; undefined without /proc. */
  machine: number | undefined;
  /** The machine less the above: other processes sharing the cores, which make a run not comparable. */
  others: number | undefined;
}

export interface FleetRun extends FleetRunOptions {
  rows: number;
  /** Sum of the tenants' budgets, writes/s: the ideal. */
  idealPerSecond: number;
  /** From releasing the queue to the last outcome. */
  seconds: number;
  /** Assignments created per second between 10% and 90% of the rows done: the steady state. */
  steadyPerSecond: number;
  /** Over the whole run, including the first window's burst, start-up (tokens) and the tail. */
  overallPerSecond: number;
  /** steadyPerSecond / idealPerSecond. */
  ratio: number;
  /** The steady window's length. */
  steadySeconds: number;
  cpu: CpuCores;
  /** Redis commands per row over the steady window (a Lua script counts once, plus what it calls). */
  redisCommandsPerRow: number;
  /** Mean over the steady window's samples: jobs ready but not yet taken, parked by their lane, in a worker. */
  queue: { waiting: number; delayed: number; active: number };
  /** The emulator's 429s, summed over tenants. */
  throttled: number;
  /** The most writes any tenant had accepted in any window of the budget's length. */
  maxWritesInWindow: number;
  created: number;
  failed: number;
  duplicates: number;
  /** The emulator's count of assignments, which must equal rows. */
  assignments: number;
  /** CPU milliseconds per row over the steady window (see cpuMsPerRow). */
  cpuMsPerRow: { workers: number; redis: number; emulator: number; total: number };
  /** cores ÷ CPU per row: the rate this load could reach with the machine to itself. */
  cpuCeilingPerSecond: number;
  /** Which resource the figures say ends throughput here. */
  limitedBy: string;
}

interface Sample {
  at: number;
  done: number;
  workerCpu: number[] | undefined;
  redisCpu: number;
  redisCommands: number;
  selfCpu: number;
  machine: { busy: number; total: number } | undefined;
  waiting: number;
  delayed: number;
  active: number;
}

/**
 * One fleet rollout: `tenants` tenants with `rowsPerTenant` new assignments each, every tenant with its
 * own budget on one emulator (in this process), `processes` real worker processes with
 * GRAPH_RATE_LIMIT set to that budget, a private redis-server. The queue is paused while it fills
 * and the workers start, so the clock covers the processing; the run is sampled every 250 ms, and
 * throughput and CPU are read over the same steady window (10% to 90% of the rows done), which leaves
 * out the start (every tenant's first window at once, a token per tenant per worker) and the tail.
 */
export async function fleetRun(options: FleetRunOptions): Promise<FleetRun> {
  await quietMachine();
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-fleet-'));
  // Lenient: the synthetic rows' configurations exist on first use, as when the committed results were measured.
  const emulator = await startEmulator({
    port: 0,
    certDir: join(dir, 'emulator'),
    rateLimit: FLEET_BUDGET,
    strictConfigurations: false,
  });
  const control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  const prefix = `fleet${randomUUID().slice(0, 6)}`;
  const queue = openQueue(redis, prefix);
  const store = new RolloutStore(redis, prefix, 3_600_000);
  const tenantIds = Array.from({ length: options.tenants }, () => randomUUID());
  // Two policies per tenant: a fleet rollout is many tenants, few policies, many groups.
  const rows = syntheticRows(options.tenants * options.rowsPerTenant, { tenants: tenantIds, configurations: 2 });
  const workers: ReadyChild[] = [];
  let clean = false;
  try {
    await queue.pause();
    const { rolloutId } = await enqueueRollout(
      { rows, lines: [], inputRows: rows.length, duplicateRows: 0, format: 'csv' },
      { queue, store },
      { source: 'bench' },
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...emulator.env(tenantIds[0]),
      REDIS_URL: redisServer.url,
      QUEUE_PREFIX: prefix,
      WORKER_CONCURRENCY: String(FLEET_CONCURRENCY),
      GRAPH_RATE_LIMIT: `${FLEET_BUDGET.max}/${FLEET_BUDGET.windowMs}ms`,
      LOG_LEVEL: 'info',
    };
    for (let i = 0; i < options.processes; i++) {
      workers.push(await spawnReady([BIN, 'worker'], env, 'worker started', join(dir, `worker-${i + 1}.log`)));
    }

    const rolloutKey = new RedisKeys(prefix).rollout(rolloutId);
    const sample = async (): Promise<Sample> => {
      const [counts, progress, work] = await Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
        redis.hmget(rolloutKey, 'created', 'alreadyAssigned', 'failed', 'cancelled'),
        redisWork(redis),
      ]);
      const workerCpu = workers.map((w) => processCpuSeconds(w.child.pid));
      const self = process.cpuUsage();
      return {
        at: performance.now(),
        done: progress.reduce((a, v) => a + (Number(v) || 0), 0),
        workerCpu: workerCpu.some((v) => v === undefined) ? undefined : (workerCpu as number[]),
        redisCpu: work.cpuSeconds,
        redisCommands: work.commands,
        selfCpu: (self.user + self.system) / 1e6,
        machine: machineTicks(),
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
      };
    };

    const samples: Sample[] = [];
    const started = performance.now();
    await queue.resume();
    let lastProgress = started;
    for (;;) {
      const s = await sample();
      samples.push(s);
      if (s.done >= rows.length) break;
      if (s.done > (samples[samples.length - 2]?.done ?? 0)) lastProgress = s.at;
      if (s.at - lastProgress > 60_000) throw new Error(`fleet run stalled at ${s.done}/${rows.length} rows`);
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.stderrTail()}`);
      await sleep(SAMPLE_MS);
    }
    const seconds = (samples[samples.length - 1]!.at - started) / 1000;

    const from = samples.find((s) => s.done >= rows.length * 0.1) ?? samples[0]!;
    let to = samples.find((s) => s.done >= rows.length * 0.9) ?? samples[samples.length - 1]!;
    if (to === from) to = samples[samples.length - 1]!;
    const wall = (to.at - from.at) / 1000;
    const steadyRows = to.done - from.done;
    const inWindow = samples.filter((s) => s.at >= from.at && s.at <= to.at);
    const mean = (pick: (s: Sample) => number) => inWindow.reduce((a, s) => a + pick(s), 0) / inWindow.length;
    const workerCores =
      from.workerCpu && to.workerCpu ? to.workerCpu.map((c, i) => (c - from.workerCpu![i]!) / wall) : undefined;
    const cpu: CpuCores = {
      workers: workerCores ? workerCores.reduce((a, c) => a + c, 0) : NaN,
      busiestWorker: workerCores ? Math.max(...workerCores) : NaN,
      redis: (to.redisCpu - from.redisCpu) / wall,
      emulator: (to.selfCpu - from.selfCpu) / wall,
      machine:
        from.machine && to.machine
          ? ((to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total)) * cpus().length
          : undefined,
      others: undefined,
    };
    if (cpu.machine !== undefined) cpu.others = Math.max(0, cpu.machine - cpu.workers - cpu.redis - cpu.emulator);

    const status = await store.status(rolloutId);
    const stats = await control.stats(FLEET_BUDGET.windowMs);
    const truth = await control.truth();
    const tenantStats = Object.values(stats.tenants);
    const idealPerSecond = (options.tenants * FLEET_BUDGET.max * 1000) / FLEET_BUDGET.windowMs;
    const steadyPerSecond = steadyRows / wall;
    const queueMeans = {
      waiting: mean((s) => s.waiting),
      delayed: mean((s) => s.delayed),
      active: mean((s) => s.active),
    };
    const run: FleetRun = {
      ...options,
      rows: rows.length,
      idealPerSecond,
      seconds,
      steadyPerSecond,
      overallPerSecond: rows.length / seconds,
      ratio: steadyPerSecond / idealPerSecond,
      steadySeconds: wall,
      cpu,
      redisCommandsPerRow: (to.redisCommands - from.redisCommands) / Math.max(1, steadyRows),
      queue: queueMeans,
      throttled: tenantStats.reduce((a, t) => a + t.throttled, 0),
      maxWritesInWindow: Math.max(0, ...tenantStats.map((t) => t.maxWritesInWindow ?? 0)),
      created: status?.created ?? -1,
      failed: status?.failed ?? -1,
      duplicates: truth.duplicates,
      assignments: truth.assignments,
      cpuMsPerRow: { workers: 0, redis: 0, emulator: 0, total: 0 },
      cpuCeilingPerSecond: 0,
      limitedBy: '',
    };
    run.cpuMsPerRow = cpuMsPerRow(run);
    run.cpuCeilingPerSecond = cpuCeilingPerSecond(run);
    run.limitedBy = limitedBy(run);
    if (run.failed !== 0 || run.duplicates !== 0 || run.assignments !== rows.length || run.created !== rows.length) {
      throw new Error(
        `fleet run of ${options.tenants} tenants is wrong: ${JSON.stringify({ created: run.created, failed: run.failed, duplicates: run.duplicates, assignments: run.assignments, rows: rows.length })}; logs in ${dir}`,
      );
    }
    clean = true;
    return run;
  } finally {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queue.close();
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
    // Worker logs are only worth keeping when something went wrong.
    if (clean) rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU milliseconds per assignment over the steady window: workers, Redis, emulator, and their sum. */
export function cpuMsPerRow(run: Pick<FleetRun, 'cpu' | 'steadyPerSecond'>): {
  workers: number;
  redis: number;
  emulator: number;
  total: number;
} {
  const per = (cores: number) => (cores * 1000) / run.steadyPerSecond;
  const workers = per(run.cpu.workers);
  const redis = per(run.cpu.redis);
  const emulator = per(run.cpu.emulator);
  return { workers, redis, emulator, total: workers + redis + emulator };
}

/**
 * What the machine's cores could push if this run had them to itself: cores ÷ CPU per row. CPU per
 * row barely moves when other processes share the cores (they take wall time, not instructions), so
 * this holds where the measured rate does not.
 */
export function cpuCeilingPerSecond(run: Pick<FleetRun, 'cpu' | 'steadyPerSecond'>): number {
  return (cpus().length * 1000) / cpuMsPerRow(run).total;
}

/**
 * Reads the figures the way the README does. Near the ideal the tenants' budgets are the limit (the
 * lane's window is 5% + 50 ms longer than the budget, so about 0.9 is the most a configured lane
 * gives). Below it, rows waiting in the queue with every worker slot taken mean the workers cannot
 * keep up; Redis's one thread at a full core would be Redis; all cores busy is the CPU, and the CPU
 * per row says whose.
 */
export function limitedBy(run: FleetRun): string {
  if (run.ratio >= 0.8) return 'the tenants’ budgets (Graph)';
  const { cpu } = run;
  const perRow = cpuMsPerRow(run);
  const workerShare = `workers ${((100 * perRow.workers) / perRow.total).toFixed(0)}% of the CPU per row`;
  if (cpu.redis >= 0.9) return `Redis (its one thread at ${cpu.redis.toFixed(2)} core)`;
  const backlog = run.queue.waiting > run.queue.active ? `, ${fmt(run.queue.waiting)} rows waiting for a worker` : '';
  if (cpu.machine !== undefined && cpu.machine >= cpus().length * 0.85) {
    const others =
      cpu.others !== undefined && cpu.others >= 0.2 ? ` (${cpu.others.toFixed(2)} of them other processes’)` : '';
    return `CPU: ${cpu.machine.toFixed(2)} of ${cpus().length} cores busy${others}${backlog}; ${workerShare}`;
  }
  if (cpu.busiestWorker >= 0.9) return `worker CPU (busiest process at ${cpu.busiestWorker.toFixed(2)} core)${backlog}`;
  if (cpu.emulator >= 0.9) return `the emulator (its one thread at ${cpu.emulator.toFixed(2)} core)`;
  return `none saturated${backlog}`;
}

/**
 * Waits (up to BENCH_QUIET_WAIT_S, default 180 s) until the machine is nearly idle, since a build or a
 * test sharing two cores halves what a run can measure; the run's `others` column shows what remained.
 */
async function quietMachine(): Promise<void> {
  const until = Date.now() + Number(process.env.BENCH_QUIET_WAIT_S ?? 180) * 1000;
  for (let announced = false; Date.now() < until;) {
    const a = machineTicks();
    await sleep(2000);
    const b = machineTicks();
    if (!a || !b) return;
    const busy = ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
    if (busy < 0.3) return;
    if (!announced) console.error(`fleet: waiting for the machine to go quiet (${busy.toFixed(2)} cores busy)`);
    announced = true;
  }
  console.error('fleet: the machine is still busy; measuring anyway (see the "others" column)');
}

/** Busy and total jiffies of all cores since boot, from /proc/stat's first line; undefined without /proc. */
function machineTicks(): { busy: number; total: number } | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number) as number[];
  const total = user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!;
  return { busy: total - idle! - iowait!, total };
}

/**
 * Rows per tenant: twelve windows' worth, so that even one tenant runs long enough (about 12 s) to
 * measure a steady state; but never more than `maxRows` in all, so that 500 tenants stay at about
 * 20,000 rows (40 each), which the machine, not the budgets, then takes 10-20 s over.
 */
export function fleetRowsPerTenant(
  tenants: number,
  maxRows = Number(process.env.BENCH_FLEET_MAX_ROWS ?? 20_000),
): number {
  return Math.max(FLEET_BUDGET.max + 15, Math.min(FLEET_BUDGET.max * 12, Math.floor(maxRows / tenants)));
}

export function fleetTable(runs: FleetRun[], first: string): string[] {
  const lines = [
    `| ${first} | rows | ideal /s (sum of budgets) | measured /s (steady) | measured / ideal | time (s) | CPU cores: workers (busiest) / Redis / emulator / other processes | CPU ms per row: workers / Redis / emulator | CPU ceiling /s (${cpus().length} free cores) | queue: waiting / delayed / active | 429s | max writes per tenant in 1 s | duplicates | failed | limited by |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    const key = first === 'tenants' ? r.tenants : r.processes;
    const ms = cpuMsPerRow(r);
    lines.push(
      `| ${key} | ${fmt(r.rows)} | ${fmt(r.idealPerSecond)} | ${fmt(r.steadyPerSecond)} | ${r.ratio.toFixed(2)} | ${r.seconds.toFixed(1)} | ` +
        `${r.cpu.workers.toFixed(2)} (${r.cpu.busiestWorker.toFixed(2)}) / ${r.cpu.redis.toFixed(2)} / ${r.cpu.emulator.toFixed(2)} / ${r.cpu.others === undefined ? 'n/a' : r.cpu.others.toFixed(2)} | ` +
        `${ms.workers.toFixed(2)} / ${ms.redis.toFixed(2)} / ${ms.emulator.toFixed(2)} | ${fmt(cpuCeilingPerSecond(r))} | ` +
        `${fmt(r.queue.waiting)} / ${fmt(r.queue.delayed)} / ${fmt(r.queue.active)} | ${r.throttled} | ${r.maxWritesInWindow} | ${r.duplicates} | ${r.failed} | ${r.limitedBy} |`,
    );
  }
  return lines;
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * The fleet benchmark: 1, 10, 100 and 500 tenants (BENCH_FLEET_TENANTS overrides), each with its own
 * budget, two worker processes. Prints the table, writes bench/results/fleet.json and fleet.svg.
 */
export async function fleetBenchmark(): Promise<FleetRun[]> {
  const counts = (process.env.BENCH_FLEET_TENANTS ?? '1,10,100,500').split(',').map((s) => Number(s.trim()));
  const runs: FleetRun[] = [];
  for (const tenants of counts) {
    runs.push(await fleetRun({ tenants, rowsPerTenant: fleetRowsPerTenant(tenants), processes: 2 }));
    console.error(`fleet: ${tenants} tenants done (${fmt(runs[runs.length - 1]!.steadyPerSecond)}/s)`);
  }
  console.log(
    `\nfleet: each tenant its own emulator budget of ${FLEET_BUDGET.max} writes per ${FLEET_BUDGET.windowMs} ms, GRAPH_RATE_LIMIT to match, ` +
      `2 worker processes x WORKER_CONCURRENCY ${FLEET_CONCURRENCY}, private redis-server, emulator in the bench process; ` +
      'rates and CPU over the steady window (10% to 90% of the rows done)',
  );
  for (const line of fleetTable(runs, 'tenants')) console.log(line);
  await writeResult('fleet', { budget: FLEET_BUDGET, processes: 2, concurrency: FLEET_CONCURRENCY, runs });
  writeThroughputSvg('fleet', {
    title: `Fleet: 2 worker processes, ${FLEET_BUDGET.max} writes/s per tenant`,
    xLabel: 'tenants (log scale)',
    xLog: true,
    points: runs.map((r) => ({
      x: r.tenants,
      measured: r.steadyPerSecond,
      ideal: r.idealPerSecond,
      ceiling: r.cpuCeilingPerSecond,
    })),
  });
  return runs;
}

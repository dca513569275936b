import { rolloutPace, type PaceResult } from './rollout-pace.js';
import { latencyHiding } from './latency-hiding.js';
import { redisRoundTrips } from './redis-round-trips.js';
import { describeMachine, machineFacts, writeResult } from './results.js';
import { enqueueThroughput } from './enqueue-throughput.js';
import { redisFootprint } from './redis-footprint.js';
import { WORKER_CPU_CONCERNS, workerOverhead, type OverheadRun } from './worker-overhead.js';
import { cpuByConcern, summarizeCpuProfiles } from './cpu-profile-summary.js';
import { peakRssProbe } from './peak-rss.js';
import { fleetBenchmark } from './fleet.js';
import { scaleOutBenchmark } from './scale-out.js';

/**
 * `npm run bench`: every benchmark, each printed as a markdown table against its baseline measured in
 * the same run, on the same machine, so the ratios hold on any machine even where the seconds do not.
 *
 * - throttle (alias pace): 2,000 rows for one tenant against an emulator that allows 25 writes/s, two
 *   workers, GRAPH_RATE_LIMIT set and unset, and unset against an emulator that leaves Retry-After out.
 *   The baseline is the ideal: the first window's 25 rows at once, then 25 per second (79 s); the
 *   ratio is ideal / measured (targets ≥ 0.95 set, ≥ 0.85 unset).
 *   Writes bench/results/throttle.json.
 * - latency: an emulator answering after 300 ms, no limit, 2 workers × 16 and × 32: rows/s against
 *   workers × concurrency / latency. Writes bench/results/latency.json.
 * - roundtrips: Redis commands per row of a fault-free rollout (INFO commandstats, and MONITOR for
 *   what the workers send). Writes bench/results/round-trips.json.
 * - enqueue: a 100,000-row CSV through `assignments enqueue` against raw `queue.addBulk` of the same
 *   jobs; time ratio (target ≤ 2) and the CLI's peak RSS (target < 300 MB).
 * - footprint: Redis bytes per row that a finished 100,000-row rollout leaves behind.
 * - overhead: real worker processes against bare BullMQ workers making the same POSTs to an emulator
 *   that answers at once; jobs/s ratio (target ≥ 0.7).
 * - fleet: 1, 10, 100 and 500 tenants, each with its own emulator budget (25 writes/s), two workers: steady
 *   assignments/s against the sum of the budgets, and the CPU of workers, Redis and emulator (bench/fleet.ts).
 * - scaleout: the 500-tenant fleet load with 1, 2 and 4 worker processes (bench/scale-out.ts).
 *
 * Environment (all optional):
 *   BENCH_ONLY           comma-separated subset of throttle,latency,roundtrips,enqueue,footprint,
 *                        overhead,fleet,scaleout (default: all; pace = throttle)
 *   BENCH_PACE_ROWS      rows of the throttle benchmark (default 2000)
 *   BENCH_LATENCY_ROWS   rows of each latency-hiding run (default 2000); BENCH_LATENCY_CONCURRENCY
 *                        its WORKER_CONCURRENCY values (16,32)
 *   BENCH_ROUNDTRIP_ROWS rows of the round-trips run (default 2000)
 *   BENCH_ROWS           rows of the enqueue and footprint benchmarks (default 100000)
 *   BENCH_OVERHEAD_ROWS  rows of each worker-overhead run (default 20000)
 *   BENCH_REPEATS        runs of each side of the enqueue and overhead benchmarks; medians are compared (default 3)
 *   BENCH_CPU_PROF       a directory: the overhead benchmark's workers run under --cpu-prof and a summary is printed
 *   BENCH_FLEET_TENANTS  tenant counts of the fleet benchmark (default 1,10,100,500);
 *                        BENCH_FLEET_MAX_ROWS caps its rows per run (20000)
 *   BENCH_QUIET_WAIT_S   how long each fleet or scale-out run waits for the machine to go quiet first (default 180)
 *   BENCH_SCALEOUT_PROCESSES  worker processes of the scale-out runs (default 1,2,4);
 *                        BENCH_SCALEOUT_TENANTS their tenants (500)
 *   BENCH_RSS_PROBE      `preload` to read the CLI's peak RSS from inside the process even where GNU time exists
 */
const only = new Set(
  (process.env.BENCH_ONLY ?? 'throttle,latency,roundtrips,enqueue,footprint,overhead,fleet,scaleout')
    .split(',')
    .map((s) => s.trim()),
);
const scaleRows = Number(process.env.BENCH_ROWS ?? 100_000);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);

if (only.has('pace') || only.has('throttle')) {
  const rows = Number(process.env.BENCH_PACE_ROWS ?? 2000);
  const results: PaceResult[] = [];
  // The third run is the learned lane against a Graph that leaves Retry-After out (Intune often does).
  for (const [configured, retryAfterFormat] of [
    [true, 'fractional'],
    [false, 'fractional'],
    [false, 'none'],
  ] as const) {
    const r = await rolloutPace({ rows, max: 25, windowMs: 1000, configured, retryAfterFormat });
    results.push(r);
  }
  const machine = await machineFacts();
  console.log(
    `\nthrottle efficiency: ${rows} rows, one tenant, emulator limit 25 writes/s, 2 workers x 16; ${describeMachine(machine)}`,
  );
  console.log(
    '| mode | time (s) | ideal (s) | ideal/time | target | rows/s | first write (s) | steady writes/s | after last write (s) | 429s | max writes in any 1 s | duplicates | failed |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const target = r.label.startsWith('GRAPH_RATE_LIMIT') ? 0.95 : 0.85;
    console.log(
      `| ${r.label} | ${r.seconds.toFixed(1)} | ${r.idealSeconds.toFixed(1)} | ${r.ratioToIdeal.toFixed(2)} | ≥ ${target.toFixed(2)} | ${(r.rows / r.seconds).toFixed(1)} | ${r.firstWriteSeconds.toFixed(1)} | ${r.steadyWritesPerSecond.toFixed(1)} | ${r.tailSeconds.toFixed(1)} | ${r.throttled} | ${r.maxWritesInWindow} | ${r.duplicates} | ${r.failed} |`,
    );
  }
  console.log(
    `wrote ${writeResult('throttle', { rows, tenants: 1, emulatorLimit: '25/1s', processes: 2, concurrency: 16, burst: 25, runs: results }, machine)}`,
  );
}

if (only.has('latency')) {
  const rows = Number(process.env.BENCH_LATENCY_ROWS ?? 2000);
  const concurrencies = (process.env.BENCH_LATENCY_CONCURRENCY ?? '16,32').split(',').map(Number);
  const machine = await machineFacts();
  const r = await latencyHiding({ rows, tenants: 10, configurations: 2, processes: 2, concurrencies, latencyMs: 300 });
  console.log(
    `\nlatency hiding: ${rows} rows over ${r.tenants} tenants x ${r.configurationsPerTenant} configurations, emulator latency ${r.latencyMs} ms, no limit, ${r.processes} workers; ${describeMachine(machine)}`,
  );
  console.log(
    '| WORKER_CONCURRENCY | time (s) | rows/s | ideal rows/s (workers × concurrency / latency) | measured / ideal | duplicates | failed |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const x of r.runs) {
    console.log(
      `| ${x.concurrency} | ${x.seconds.toFixed(1)} | ${x.rowsPerSecond.toFixed(1)} | ${x.idealRowsPerSecond.toFixed(1)} | ${x.ratio.toFixed(2)} | ${x.duplicates} | ${x.failed} |`,
    );
  }
  console.log(`wrote ${writeResult('latency', r, machine)}`);
}

if (only.has('roundtrips')) {
  const rows = Number(process.env.BENCH_ROUNDTRIP_ROWS ?? 2000);
  const machine = await machineFacts();
  const r = await redisRoundTrips({ rows, tenants: 2, configurations: 10, processes: 2, concurrency: 16 });
  console.log(
    `\nRedis round trips per row: ${rows} rows over ${r.tenants} tenants x ${r.configurationsPerTenant} configurations, ${r.processes} workers x ${r.concurrency}, emulator without limit or latency, ` +
      `${r.seconds.toFixed(1)} s, duplicates ${r.duplicates}, failed ${r.failed}; ${describeMachine(machine)}`,
  );
  console.log(
    `commands Redis ran per row (INFO commandstats, Lua's own calls included): ${r.commandsPerRow.toFixed(1)}; commands the workers sent per row (MONITOR): ${r.clientCommandsPerRow.toFixed(2)}`,
  );
  console.log('| command the workers sent (EVALSHA by its first key) | per row |');
  console.log('|---|---|');
  for (const c of r.byCommand.filter((c) => c.perRow >= 0.01)) console.log(`| ${c.command} | ${c.perRow.toFixed(2)} |`);
  console.log(`wrote ${writeResult('round-trips', r, machine)}`);
}

if (only.has('enqueue')) {
  const probe = peakRssProbe(process.env.BENCH_RSS_PROBE === 'preload' ? 'preload' : 'time');
  const r = await enqueueThroughput({ rows: scaleRows, repeats, rssProbe: probe });
  const base = median(r.baselineSeconds);
  const cli = median(r.cliSeconds);
  const startup = median(r.startupSeconds);
  console.log(
    `\nenqueue throughput: ${fmt(r.rows)} rows (2 tenants x 10 configurations), private redis-server, median of ${repeats} alternating runs; peak RSS from ${r.rssSource}`,
  );
  console.log('| what | time (s) | runs (s) | rows/s | time / baseline | peak RSS (MB), max of runs |');
  console.log('|---|---|---|---|---|---|');
  console.log(
    `| baseline: raw \`queue.addBulk\` of the same jobs, 1000 per call, in process | ${base.toFixed(2)} | ${list(r.baselineSeconds)} | ${fmt(r.rows / base)} | 1.00 | — |`,
  );
  console.log(
    `| \`assignments enqueue rollout.csv --json\` (child process; target ≤ 2.00, < 300 MB) | ${cli.toFixed(2)} | ${list(r.cliSeconds)} | ${fmt(r.rows / cli)} | ${(cli / base).toFixed(2)} | ${mb(Math.max(...r.cliPeakRssBytes))} (runs: ${r.cliPeakRssBytes.map(mb).join(', ')}) |`,
  );
  console.log(
    `| of which start-up: \`assignments enqueue --help\` | ${startup.toFixed(2)} | ${list(r.startupSeconds)} | — | ${(startup / base).toFixed(2)} | — |`,
  );
}

if (only.has('footprint')) {
  const r = await redisFootprint({ rows: scaleRows, processes: 2, concurrency: 64 });
  const delta = r.usedMemoryFinished - r.usedMemoryEmpty;
  const perRow = (bytes: number) => (bytes / r.rows).toFixed(0);
  console.log(
    `\nRedis footprint of a finished rollout: ${fmt(r.rows)} rows (2 tenants x 10 configurations), ${r.processes} workers x ${r.concurrency}, emulator without limit or latency; ` +
      `ran in ${r.seconds.toFixed(1)} s (${fmt(r.rows / r.seconds)} rows/s), created ${r.status.created}, failed ${r.status.failed}, duplicates ${r.duplicates}, jobs left ${r.jobsLeft}`,
  );
  console.log('| what | keys | bytes | bytes/row |');
  console.log('|---|---|---|---|');
  console.log(
    `| INFO used_memory, finished − before (baseline: the same Redis, workers connected, queue empty) | — | ${fmt(delta)} | ${perRow(delta)} |`,
  );
  for (const g of r.groups)
    console.log(`| MEMORY USAGE: ${g.group} | ${fmt(g.keys)} | ${fmt(g.bytes)} | ${perRow(g.bytes)} |`);
  const sum = r.groups.reduce((a, g) => a + g.bytes, 0);
  console.log(
    `| MEMORY USAGE: all keys under the prefix | ${fmt(r.groups.reduce((a, g) => a + g.keys, 0))} | ${fmt(sum)} | ${perRow(sum)} |`,
  );
}

if (only.has('overhead')) {
  const rows = Number(process.env.BENCH_OVERHEAD_ROWS ?? 20_000);
  const r = await workerOverhead({
    rows,
    processes: 2,
    concurrency: 64,
    tenants: 1,
    repeats,
    logLevel: 'info',
    cpuProfileDir: process.env.BENCH_CPU_PROF,
  });
  const bare = median(r.bare.map((x) => x.seconds));
  const pipeline = median(r.pipeline.map((x) => x.seconds));
  const perRow = (runs: OverheadRun[], pick: (x: OverheadRun) => number | undefined, scale: number, digits: number) => {
    const values = runs.map(pick);
    return values.some((v) => v === undefined) ? 'n/a' : ((median(values as number[]) * scale) / rows).toFixed(digits);
  };
  console.log(
    `\nworker overhead: ${fmt(rows)} rows, one tenant, ${r.processes} processes x WORKER_CONCURRENCY ${r.concurrency}, emulator without limit or latency, ` +
      `real workers at LOG_LEVEL=${r.logLevel}; median of ${repeats} alternating runs; CPU per row is also a median (emulator CPU = this process's)`,
  );
  // On a machine this small the three share the cores, so CPU per row predicts the ratio and varies
  // far less between runs than wall-clock time does.
  const cpuPerRow = (runs: OverheadRun[]) => {
    const totals = runs.map((x) =>
      x.workerCpuSeconds === undefined ? undefined : x.workerCpuSeconds + x.redisCpuSeconds + x.emulatorCpuSeconds,
    );
    return totals.some((v) => v === undefined) ? undefined : median(totals as number[]) / rows;
  };
  const bareCpu = cpuPerRow(r.bare);
  console.log(
    '| workers | time (s) | runs (s) | jobs/s | jobs/s / baseline | worker CPU ms/row | Redis CPU ms/row | Redis commands/row | emulator CPU ms/row | all CPU ms/row | baseline CPU / CPU |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [label, runs, seconds] of [
    ['baseline: bare BullMQ Worker + got POST, token fetched once', r.bare, bare],
    ['`assignments worker` (target ≥ 0.70)', r.pipeline, pipeline],
  ] as const) {
    console.log(
      `| ${label} | ${seconds.toFixed(2)} | ${list(runs.map((x) => x.seconds))} | ${fmt(rows / seconds)} | ${(bare / seconds).toFixed(2)} | ` +
        `${perRow(runs, (x) => x.workerCpuSeconds, 1000, 3)} | ${perRow(runs, (x) => x.redisCpuSeconds, 1000, 3)} | ${perRow(runs, (x) => x.redisCommands, 1, 1)} | ${perRow(runs, (x) => x.emulatorCpuSeconds, 1000, 3)} | ` +
        `${cpuPerRow(runs) === undefined ? 'n/a' : (cpuPerRow(runs)! * 1000).toFixed(3)} | ${bareCpu === undefined ? 'n/a' : (bareCpu / cpuPerRow(runs)!).toFixed(2)} |`,
    );
  }
  for (const w of r.warnings) console.log(`warning: ${w}`);
  if (process.env.BENCH_CPU_PROF) {
    for (const kind of ['pipeline', 'bare'] as const) {
      for (const dir of r.profileDirs[kind]) {
        const { busyMs, concerns } = cpuByConcern(dir, WORKER_CPU_CONCERNS);
        console.log(
          `\nCPU profile, ${kind} workers (${dir}): ${fmt(busyMs)} ms busy (${((busyMs * 1000) / rows).toFixed(0)} µs/row), by concern`,
        );
        console.log('| concern | ms | µs/row | share of busy |');
        console.log('|---|---|---|---|');
        for (const c of concerns.filter((c) => c.ms > 0))
          console.log(
            `| ${c.concern} | ${fmt(c.ms)} | ${((c.ms * 1000) / rows).toFixed(0)} | ${((100 * c.ms) / busyMs).toFixed(1)}% |`,
          );
        const top = summarizeCpuProfiles(dir)
          .byFunction.filter((f) => !f.fn.startsWith('(idle)'))
          .slice(0, 12);
        console.log(`heaviest functions (self ms): ${top.map((f) => `${f.fn} ${fmt(f.ms)}`).join('; ')}`);
      }
    }
  }
}

if (only.has('fleet')) await fleetBenchmark();

if (only.has('scaleout')) await scaleOutBenchmark();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function list(values: number[]): string {
  return values.map((v) => v.toFixed(2)).join(', ');
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

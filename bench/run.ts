import { rolloutPace, type PaceResult } from './rollout-pace.js';
import { latencyHiding } from './latency-hiding.js';
import { redisRoundTrips } from './redis-round-trips.js';
import { describeMachine, machineFacts, median, writeResult } from './results.js';
import { enqueueThroughput } from './enqueue-throughput.js';
import { redisFootprint } from './redis-footprint.js';
import { allCpuPerRow, WORKER_CPU_CONCERNS, workerOverhead, type OverheadRun } from './worker-overhead.js';
import { cpuByConcern, summarizeCpuProfiles } from './cpu-profile-summary.js';
import { peakRssProbe } from './peak-rss.js';
import { fleetBenchmark } from './fleet.js';
import { scaleOutBenchmark } from './scale-out.js';
import type { ThrottleSpec } from '../emulator/throttle-model.js';
import { statCell } from './bench-emulator.js';
import {
  faultsBenchmark,
  fleet8Benchmark,
  invalidClientBenchmark,
  neighbourBenchmark,
  tokenOutageBenchmark,
} from './pacing-scenarios.js';
import { pipelineBenchmark } from './pipeline.js';

/**
 * The Graph throttle models the throttle benchmark plays, by the names BENCH_THROTTLE_MODELS takes.
 * `token-bucket` counts GETs too (the rollout's listing reads take budget), yet its ideal is taken as
 * (rows − burst) / rate like the windows'.
 */
const THROTTLE_BENCH_MODELS: readonly { name: string; budget: string; throttle: Required<ThrottleSpec> }[] = [
  { name: 'sliding', budget: '25/1s', throttle: { model: 'sliding-writes', max: 25, windowMs: 1000, signal: '429' } },
  {
    name: 'token-bucket',
    budget: '25/1s',
    throttle: { model: 'token-bucket', max: 25, windowMs: 1000, signal: '429' },
  },
  {
    name: 'fixed-window',
    budget: '100/20s',
    throttle: { model: 'fixed-window', max: 100, windowMs: 20_000, signal: '429' },
  },
  {
    name: 'sliding-no-retry-after',
    budget: '25/1s',
    throttle: { model: 'sliding-writes', max: 25, windowMs: 1000, signal: '429-no-retry-after' },
  },
  {
    name: 'sliding-503',
    budget: '25/1s',
    throttle: { model: 'sliding-writes', max: 25, windowMs: 1000, signal: '503' },
  },
];

/**
 * `npm run bench`: every benchmark, each printed as a markdown table against its baseline measured in
 * the same run, on the same machine, so the ratios hold on any machine even where the seconds do not.
 *
 * - throttle (alias pace): 2,000 rows for one tenant, two workers, against the emulator playing each
 *   Graph throttle model in turn (THROTTLE_BENCH_MODELS: sliding writes 25/1s with 429, a token bucket
 *   25/1s, Intune's fixed window 100/20s, sliding writes 25/1s answering 429 without Retry-After, and
 *   answering 503), each with GRAPH_RATE_LIMIT set to the model's budget and unset (learned). The
 *   baseline is the ideal: the first window's worth at once, then `max` per window ((rows − max) / max
 *   × window; for the token bucket (rows − burst) / rate, though the bucket also charges the
 *   rollout's GETs); the ratio is ideal / measured (targets ≥ 0.95 set, ≥ 0.85 learned), and the last
 *   line gives the worst of each. Writes bench/results/throttle.json.
 * - faults, fleet8, neighbour, token-outage (with invalid-client), pipeline: issue 11's scenarios
 *   (bench/pacing-scenarios.ts, bench/pipeline.ts): a fault mix on every request kind (≤ 30 s; ≥ 0.8 of
 *   ideal under a 25/1s throttle), 8 tenants at 10/s (≥ 0.93), 4 quiet tenants beside a noisy one
 *   (≤ 4 s), a 6-s token outage (≤ 12 s), one tenant's secret refused (its rows failed ≤ 10 s, the
 *   others at full pace), the pipeline against a bare BullMQ worker (≥ 0.70 one tenant, ≥ 0.85 ten).
 *   Each writes bench/results/<name>.json.
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
 *   BENCH_ONLY           comma-separated subset of throttle,faults,fleet8,neighbour,token-outage,
 *                        invalid-client,pipeline,latency,roundtrips,enqueue,footprint,overhead,fleet,
 *                        scaleout (default: all; pace = throttle; token-outage includes invalid-client)
 *   BENCH_EMULATOR_NEXT  1: the emulator has the POST fault kinds 503-without-Retry-After, 502, 504 and
 *                        faultRetryAfterMs (the faults scenario sends them; default: today's kinds only)
 *   BENCH_FAULTS_ROWS, BENCH_FLEET8_ROWS (per tenant), BENCH_FLEET8_TENANTS, BENCH_NEIGHBOUR_ROWS (per
 *                        tenant), BENCH_TOKEN_OUTAGE_ROWS, BENCH_TOKEN_OUTAGE_S, BENCH_INVALID_CLIENT_ROWS
 *                        (per tenant), BENCH_PIPELINE_ROWS, BENCH_PIPELINE_TENANTS: the scenarios' sizes
 *                        (300; 200, 8; 60; 100, 6; 200; 3000, 1,10)
 *   BENCH_PACE_ROWS      rows of each throttle benchmark run (default 2000)
 *   BENCH_THROTTLE_MODELS comma-separated subset of the throttle benchmark's models: sliding,
 *                        token-bucket, fixed-window, sliding-no-retry-after, sliding-503 (default: all)
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
  (
    process.env.BENCH_ONLY ??
    'throttle,faults,fleet8,neighbour,token-outage,pipeline,latency,roundtrips,enqueue,footprint,overhead,fleet,scaleout'
  )
    .split(',')
    .map((s) => s.trim()),
);
const scaleRows = Number(process.env.BENCH_ROWS ?? 100_000);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);

if (only.has('pace') || only.has('throttle')) {
  const rows = Number(process.env.BENCH_PACE_ROWS ?? 2000);
  const names = (process.env.BENCH_THROTTLE_MODELS ?? THROTTLE_BENCH_MODELS.map((m) => m.name).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const models = names.map((name) => {
    const model = THROTTLE_BENCH_MODELS.find((m) => m.name === name);
    if (!model) {
      throw new Error(
        `BENCH_THROTTLE_MODELS: unknown model '${name}' (known: ${THROTTLE_BENCH_MODELS.map((m) => m.name).join(', ')})`,
      );
    }
    return model;
  });
  const results: (PaceResult & { benchModel: string })[] = [];
  for (const model of models) {
    for (const configured of [true, false]) {
      const r = await rolloutPace({
        rows,
        max: model.throttle.max,
        windowMs: model.throttle.windowMs,
        configured,
        throttle: model.throttle,
      });
      results.push({ ...r, benchModel: model.name });
    }
  }
  const machine = await machineFacts();
  console.log(
    `\nthrottle efficiency per Graph model: ${rows} rows, one tenant, 2 workers x 16; ${describeMachine(machine)}`,
  );
  console.log(
    '| model | signal | budget | mode | time (s) | ideal (s) | ideal/time | target | rows/s | first write (s) | steady writes/s | after last write (s) | throttled | sentDuringRetryAfter | reads | max counted in any window | duplicates | failed |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const target = r.configured ? 0.95 : 0.85;
    const budget = models.find((m) => m.name === r.benchModel)?.budget ?? '?';
    console.log(
      `| ${r.benchModel} | ${r.signal} | ${budget} | ${r.configured ? 'set' : 'learned'} | ${r.seconds.toFixed(1)} | ${r.idealSeconds.toFixed(1)} | ${r.ratioToIdeal.toFixed(2)} | ≥ ${target.toFixed(2)} | ${(r.rows / r.seconds).toFixed(1)} | ${r.firstWriteSeconds.toFixed(1)} | ${r.steadyWritesPerSecond.toFixed(1)} | ${r.tailSeconds.toFixed(1)} | ${r.throttled} | ${statCell(r.sentDuringRetryAfter)} | ${r.reads} | ${r.maxWritesInWindow} ${r.windowCounts} | ${r.duplicates} | ${r.failed} |`,
    );
  }
  const worst = (configured: boolean) => {
    const runs = results.filter((r) => r.configured === configured);
    if (runs.length === 0) return 'no runs';
    const w = runs.reduce((a, b) => (b.ratioToIdeal < a.ratioToIdeal ? b : a));
    return `${w.ratioToIdeal.toFixed(2)} (${w.benchModel})`;
  };
  console.log(`worst ideal/time: set ${worst(true)} (target ≥ 0.95), learned ${worst(false)} (target ≥ 0.85)`);
  console.log(
    `wrote ${writeResult('throttle', { rows, tenants: 1, models: models.map((m) => ({ name: m.name, ...m.throttle })), processes: 2, concurrency: 16, runs: results }, machine)}`,
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
  const cpuPerRow = (runs: OverheadRun[]) => allCpuPerRow(runs, rows);
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

if (only.has('faults')) await faultsBenchmark();

if (only.has('fleet8')) await fleet8Benchmark();

if (only.has('neighbour')) await neighbourBenchmark();

if (only.has('token-outage')) await tokenOutageBenchmark();

if (only.has('token-outage') || only.has('invalid-client')) await invalidClientBenchmark();

if (only.has('pipeline')) await pipelineBenchmark();

if (only.has('fleet')) await fleetBenchmark();

if (only.has('scaleout')) await scaleOutBenchmark();

function list(values: number[]): string {
  return values.map((v) => v.toFixed(2)).join(', ');
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

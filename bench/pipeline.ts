import { describeMachine, machineFacts, median, printTable, targetCells, writeResult, type Target } from './results.js';
import { envNumber } from './scenario.js';
import { allCpuPerRow, workerOverhead, type OverheadRun, type WorkerOverheadResult } from './worker-overhead.js';

/** Targets of the pipeline benchmark, by tenant count: one tenant ≥ 0.70, ten ≥ 0.85. */
function pipelineTarget(tenants: number): Target {
  return { op: '≥', value: tenants === 1 ? 0.7 : 0.85 };
}

export interface PipelineRun {
  tenants: number;
  overhead: WorkerOverheadResult;
  /** Median jobs/s of each side. */
  pipelineJobsPerSecond: number;
  bareJobsPerSecond: number;
  /** pipeline / bare. */
  ratio: number;
  /** bare CPU per row / pipeline CPU per row (see allCpuPerRow); undefined without /proc. */
  cpuRatio: number | undefined;
  /** Median Redis commands per row of each side (INFO commandstats; a Lua script counts once plus its calls). */
  pipelineCommandsPerRow: number;
  bareCommandsPerRow: number;
}

/**
 * `pipeline`: an instant Graph (no throttle, no faults, no latency), 3,000 rows over 5 configurations
 * per tenant, WORKER_CONCURRENCY=50 and no GRAPH_RATE_LIMIT, with one tenant and with ten, against
 * bare BullMQ workers (bench/bare-worker.ts) posting the same rows at the same concurrency in the same
 * run (the worker-overhead machinery: alternating runs, BENCH_REPEATS of each, medians). Ratio of
 * jobs/s (targets ≥ 0.70 one tenant, ≥ 0.85 ten), the same ratio read from CPU per row (steadier on
 * a shared machine) and Redis commands per row. The overhead runs check
 * the truth themselves (every row succeeded, no duplicate) and throw otherwise.
 */
export async function pipelineBenchmark(): Promise<PipelineRun[]> {
  const rows = envNumber('BENCH_PIPELINE_ROWS', 3000);
  const repeats = envNumber('BENCH_REPEATS', 3);
  const tenantCounts = (process.env.BENCH_PIPELINE_TENANTS ?? '1,10').split(',').map((s) => Number(s.trim()));
  const runs: PipelineRun[] = [];
  for (const tenants of tenantCounts) {
    const overhead = await workerOverhead({
      rows,
      processes: 2,
      concurrency: 50,
      tenants,
      configurations: 5,
      repeats,
      logLevel: 'info',
    });
    const jobsPerSecond = (xs: OverheadRun[]) => rows / median(xs.map((x) => x.seconds));
    const commandsPerRow = (xs: OverheadRun[]) => median(xs.map((x) => x.redisCommands)) / rows;
    const pipelineJobsPerSecond = jobsPerSecond(overhead.pipeline);
    const bareJobsPerSecond = jobsPerSecond(overhead.bare);
    runs.push({
      tenants,
      overhead,
      pipelineJobsPerSecond,
      bareJobsPerSecond,
      ratio: pipelineJobsPerSecond / bareJobsPerSecond,
      cpuRatio: ratioOf(allCpuPerRow(overhead.bare, rows), allCpuPerRow(overhead.pipeline, rows)),
      pipelineCommandsPerRow: commandsPerRow(overhead.pipeline),
      bareCommandsPerRow: commandsPerRow(overhead.bare),
    });
  }
  const machine = await machineFacts();
  console.log(
    `\npipeline: ${rows} rows, 5 configurations per tenant, emulator without throttle, faults or latency, 2 processes x WORKER_CONCURRENCY 50, ` +
      `no GRAPH_RATE_LIMIT; \`assignments worker\` against bare BullMQ workers, median of ${repeats} alternating runs each; ${describeMachine(machine)}`,
  );
  printTable(
    [
      'tenants',
      'bare jobs/s',
      '`assignments worker` jobs/s',
      'ratio',
      'target',
      'met',
      'bare CPU / worker CPU, per row',
      'runs (s): worker / bare',
      'Redis commands per row: worker / bare',
      'duplicates',
      'failed',
    ],
    runs.map((r) => [
      r.tenants,
      r.bareJobsPerSecond.toFixed(0),
      r.pipelineJobsPerSecond.toFixed(0),
      `**${r.ratio.toFixed(2)}**`,
      targetCells(r.ratio, pipelineTarget(r.tenants)),
      r.cpuRatio === undefined ? 'n/a' : r.cpuRatio.toFixed(2),
      `${list(r.overhead.pipeline)} / ${list(r.overhead.bare)}`,
      `${r.pipelineCommandsPerRow.toFixed(1)} / ${r.bareCommandsPerRow.toFixed(1)}`,
      // workerOverhead throws on a duplicate or a row that did not succeed, so a printed run has none.
      0,
      0,
    ]),
  );
  for (const r of runs) for (const w of r.overhead.warnings) console.log(`warning: ${w}`);
  console.log(`wrote ${writeResult('pipeline', { rows, configurationsPerTenant: 5, repeats, runs }, machine)}`);
  return runs;
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a / b;
}

function list(runs: OverheadRun[]): string {
  return runs.map((x) => x.seconds.toFixed(2)).join(', ');
}

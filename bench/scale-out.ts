import {
  FLEET_BUDGET,
  FLEET_CONCURRENCY,
  fleetRowsPerTenant,
  fleetRun,
  fleetTable,
  fmt,
  type FleetRun,
} from './fleet.js';
import { writeThroughputSvg } from './plot.js';
import { writeResult } from './results.js';

/**
 * The scale-out benchmark: one fleet load (500 tenants unless BENCH_SCALEOUT_TENANTS says otherwise,
 * 40 rows each) taken by 1, 2 and 4 worker processes (BENCH_SCALEOUT_PROCESSES). 500 tenants ask for
 * far more than 2 cores can push, so the runs compare what the processes get out of the CPU, not
 * the budgets. On two cores, more processes than cores can only help while no core is full; the CPU
 * columns show when that stops.
 * Prints the table, writes bench/results/scale-out.json and scale-out.svg.
 */
export async function scaleOutBenchmark(): Promise<FleetRun[]> {
  const tenants = Number(process.env.BENCH_SCALEOUT_TENANTS ?? 500);
  const counts = (process.env.BENCH_SCALEOUT_PROCESSES ?? '1,2,4').split(',').map((s) => Number(s.trim()));
  const rowsPerTenant = fleetRowsPerTenant(tenants);
  const runs: FleetRun[] = [];
  for (const processes of counts) {
    runs.push(await fleetRun({ tenants, rowsPerTenant, processes }));
    console.error(`scale-out: ${processes} processes done (${fmt(runs[runs.length - 1]!.steadyPerSecond)}/s)`);
  }
  console.log(
    `\nscale-out: ${tenants} tenants x ${rowsPerTenant} rows, each tenant its own budget of ${FLEET_BUDGET.max} writes per ${FLEET_BUDGET.windowMs} ms, ` +
      `WORKER_CONCURRENCY ${FLEET_CONCURRENCY} per process; rates and CPU over the steady window (10% to 90% of the rows done)`,
  );
  for (const line of fleetTable(runs, 'worker processes')) console.log(line);
  await writeResult('scale-out', {
    budget: FLEET_BUDGET,
    tenants,
    rowsPerTenant,
    concurrency: FLEET_CONCURRENCY,
    runs,
  });
  writeThroughputSvg('scale-out', {
    title: `Scale-out: ${tenants} tenants, ${FLEET_BUDGET.max} writes/s each`,
    xLabel: 'worker processes',
    xLog: false,
    points: runs.map((r) => ({
      x: r.processes,
      measured: r.steadyPerSecond,
      ideal: r.idealPerSecond,
      ceiling: r.cpuCeilingPerSecond,
    })),
  });
  return runs;
}

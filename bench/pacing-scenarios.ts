import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultRates, RequestFaultRates } from '../emulator/emulator-server.js';
import type { TenantStats } from '../emulator/emulator-stats.js';
import type { ThrottleSpec } from '../emulator/throttle-model.js';
import { statCell } from './bench-emulator.js';
import { describeMachine, machineFacts, printTable, targetCells, writeResult, type Target } from './results.js';
import {
  envNumber,
  mustBeZero,
  runScenario,
  SCENARIO_CONCURRENCY,
  SCENARIO_PROCESSES,
  truthCell,
  type ScenarioResult,
  type ScenarioTenantResult,
} from './scenario.js';
import { startTokenGate } from './token-gate.js';

/**
 * Issue 11's pacing scenarios ("Pacing that holds on any Graph"), each printed as a markdown table
 * with its target beside the figure and written to bench/results/<name>.json: `faults`, `fleet8`,
 * `neighbour`, `token-outage` (with `invalid-client`). Every run checks the emulator's truth (see
 * runScenario). Two worker processes × 16, as the throttle benchmark.
 */

const sliding = (max: number, windowMs = 1000): ThrottleSpec => ({
  model: 'sliding-writes',
  max,
  windowMs,
  signal: '429',
});

const fmt1 = (n: number | undefined): string => (n === undefined ? '—' : n.toFixed(1));
const fmt2 = (n: number | undefined): string => (n === undefined ? '—' : n.toFixed(2));

/** Fault draws the emulator counted for a tenant: POSTs, Graph GETs, token requests. */
function faultCounts(s: TenantStats | undefined): { post: number; read: number; token: number } {
  const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, n) => a + n, 0);
  return { post: sum(s?.faults), read: sum(s?.readFaults), token: sum(s?.tokenFaults) };
}

/** The per-tenant table of the multi-tenant scenarios. */
const TENANT_COLUMNS = [
  'tenant',
  'emulator budget',
  'done after (s)',
  'ideal (s)',
  'ideal/time',
  'target',
  'met',
  'throttled',
  'sentDuringRetryAfter',
  'max writes in any 1 s',
  'failed',
];

function tenantRow(name: string, budget: string, t: ScenarioTenantResult, target = '— | —'): (string | number)[] {
  return [
    name,
    budget,
    t.seconds.toFixed(1),
    fmt1(t.idealSeconds),
    fmt2(t.ratio),
    target,
    t.throttled,
    statCell(t.sentDuringRetryAfter),
    t.maxWritesInWindow,
    mustBeZero(t.failed),
  ];
}

/** A group of tenants with the same budget, timed until the last of them ended. */
function groupRow(name: string, budget: string, ts: ScenarioTenantResult[], target: string): (string | number)[] {
  const seconds = Math.max(...ts.map((t) => t.seconds));
  const ideal = ts[0]?.idealSeconds;
  return [
    name,
    budget,
    `**${seconds.toFixed(1)}**`,
    fmt1(ideal),
    `**${fmt2(ideal === undefined ? undefined : ideal / seconds)}**`,
    target,
    ts.reduce((a, t) => a + t.throttled, 0),
    sum(ts.map((t) => t.sentDuringRetryAfter)),
    Math.max(...ts.map((t) => t.maxWritesInWindow)),
    mustBeZero(ts.reduce((a, t) => a + t.failed, 0)),
  ];
}

async function header(text: string): Promise<void> {
  console.log(`\n${text}; ${describeMachine(await machineFacts())}`);
}

// ---------------------------------------------------------------------------------------------
// faults

/** A slow commit's assignment appears this long after its 504. */
const SLOW_COMMIT_MS = 5000;
/** The Retry-After of the fault 503s that carry one. */
const FAULT_RETRY_AFTER_MS = 2000;

/**
 * The POST fault mix: 6% 503 (half with Retry-After 2 s, half without), 3% 500, 3% reset
 * before commit, 4% commit-then-reset, 2% slow commit.
 */
export const POST_FAULT_MIX: FaultRates = {
  serviceUnavailable: 0.03,
  serviceUnavailableNoRetryAfter: 0.03,
  internalError: 0.03,
  reset: 0.03,
  commitThenReset: 0.04,
  slowCommit: 0.02,
};

/**
 * The same mix on Graph GETs and token requests, as far as their kinds go: 503 with and without
 * Retry-After (2 s), 500 and reset; commit-then-reset and slow commits exist only
 * for POSTs (a read commits nothing).
 */
export const REQUEST_FAULT_MIX: RequestFaultRates = {
  serviceUnavailable: 0.03,
  serviceUnavailableNoRetryAfter: 0.03,
  internalError: 0.03,
  reset: 0.03,
};

const FAULTS_TIME_TARGET: Target = { op: '≤', value: 30, unit: 's' };
const FAULTS_PACE_TARGET: Target = { op: '≥', value: 0.8 };

/**
 * `faults`: one tenant, 300 rows over 5 configurations, the fault mix on every request kind. First
 * without a throttle (time until every row ended, target ≤ 30 s), then on top of a sliding 25/1s with
 * GRAPH_RATE_LIMIT=25/1s (ideal/time, target ≥ 0.8).
 */
export async function faultsBenchmark(): Promise<ScenarioResult[]> {
  const rows = envNumber('BENCH_FAULTS_ROWS', 300);
  const applied: {
    post?: Required<FaultRates>;
    read?: Required<RequestFaultRates>;
    token?: Required<RequestFaultRates>;
  } = {};
  const run = (label: string, throttled: boolean) =>
    runScenario({
      label,
      tenants: [{}],
      rowsPerTenant: rows,
      configurationsPerTenant: 5,
      rateLimit: throttled ? '25/1s' : undefined,
      emulator: {
        slowCommitMs: SLOW_COMMIT_MS,
        faultRetryAfterMs: FAULT_RETRY_AFTER_MS,
        ...(throttled ? { rateLimit: { max: 25, windowMs: 1000 } } : {}),
      },
      // Through the control API, so the rates in force are what it answers (it refuses kinds it lacks).
      prepare: async ({ control }) => {
        applied.post = await control.setFaults(POST_FAULT_MIX);
        applied.read = await control.setReadFaults(REQUEST_FAULT_MIX);
        applied.token = await control.setTokenFaults(REQUEST_FAULT_MIX);
        return {};
      },
      truthAfterMs: SLOW_COMMIT_MS + 500,
    });
  const runs = [await run('fault mix, no throttle', false), await run('fault mix + sliding 25/1s', true)];

  await header(
    `faults: ${rows} rows, one tenant, 5 configurations, ${SCENARIO_PROCESSES} workers x ${SCENARIO_CONCURRENCY}, the fault mix on POSTs, GETs and token requests`,
  );
  const rates = (o: Record<string, number> | undefined) =>
    Object.entries(o ?? {})
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`)
      .join(', ');
  console.log(
    `POST faults: ${rates(applied.post)} (slow commit after ${SLOW_COMMIT_MS / 1000} s; 503 Retry-After ${FAULT_RETRY_AFTER_MS / 1000} s); GETs: ${rates(applied.read)}; token requests: ${rates(applied.token)}`,
  );
  printTable(
    [
      'run',
      'GRAPH_RATE_LIMIT',
      'time (s)',
      'ideal (s)',
      'measured',
      'target',
      'met',
      'faults drawn: POST / GET / token',
      'throttled',
      'sentDuringRetryAfter',
      'already assigned',
      'duplicates',
      'failed',
      'truth',
    ],
    runs.map((r) => {
      const t = r.tenants[0]!;
      const f = faultCounts(r.stats[t.tenantId]);
      const [measured, cells] =
        t.ratio === undefined
          ? [`${r.seconds.toFixed(1)} s`, targetCells(r.seconds, FAULTS_TIME_TARGET)]
          : [`${t.ratio.toFixed(2)} of ideal`, targetCells(t.ratio, FAULTS_PACE_TARGET)];
      return [
        r.label,
        r.rateLimit ?? 'unset',
        r.seconds.toFixed(1),
        fmt1(t.idealSeconds),
        measured,
        cells,
        `${f.post} / ${f.read} / ${f.token}`,
        t.throttled,
        statCell(t.sentDuringRetryAfter),
        t.alreadyAssigned,
        mustBeZero(r.duplicates),
        mustBeZero(r.failed),
        truthCell(r),
      ];
    }),
  );
  console.log(`wrote ${writeResult('faults', { rows, faults: applied, runs })}`);
  return runs;
}

// ---------------------------------------------------------------------------------------------
// fleet8

const FLEET8_TARGET: Target = { op: '≥', value: 0.93 };

/**
 * `fleet8`: 8 tenants, each its own sliding window of 10 writes/s in the emulator and
 * GRAPH_RATE_LIMIT=10/1s, 200 rows each, all in one rollout. Ideal per tenant (rows − max) / max ×
 * window (19 s); the figure is ideal / the time until the last tenant ended (target ≥ 0.93), and each
 * tenant's own.
 */
export async function fleet8Benchmark(): Promise<ScenarioResult> {
  const rowsPerTenant = envNumber('BENCH_FLEET8_ROWS', 200);
  const tenantCount = envNumber('BENCH_FLEET8_TENANTS', 8);
  const r = await runScenario({
    label: 'fleet8',
    tenants: Array.from({ length: tenantCount }, () => ({ throttle: sliding(10) })),
    rowsPerTenant,
    configurationsPerTenant: 2,
    rateLimit: '10/1s',
  });
  const ideal = r.tenants[0]!.idealSeconds!;
  const overall = ideal / r.seconds;
  await header(
    `fleet8: ${tenantCount} tenants x ${rowsPerTenant} rows, each a sliding window of 10 writes/s in the emulator, GRAPH_RATE_LIMIT=10/1s, ${r.processes} workers x ${r.concurrency}`,
  );
  printTable(TENANT_COLUMNS, [
    ...r.tenants.map((t, i) => tenantRow(String(i + 1), '10/1s', t)),
    groupRow(
      `**all ${tenantCount}** (until the last ended)`,
      '10/1s each',
      r.tenants,
      targetCells(overall, FLEET8_TARGET),
    ),
  ]);
  const worst = r.tenants.reduce((a, t) => Math.min(a, t.ratio ?? Infinity), Infinity);
  console.log(
    `worst tenant ${worst.toFixed(2)} of its ideal; duplicates ${r.duplicates}, failed ${r.failed}; truth: ${truthCell(r)}`,
  );
  console.log(`wrote ${writeResult('fleet8', { rowsPerTenant, tenants: tenantCount, overallRatio: overall, run: r })}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// neighbour

const NEIGHBOUR_TARGET: Target = { op: '≤', value: 4, unit: 's' };

/**
 * `neighbour`: one tenant the emulator throttles at 2 writes/s beside four it throttles at 20/s, 60
 * rows each, GRAPH_RATE_LIMIT unset (every pace learned). How long the four quiet tenants take
 * (target ≤ 4 s; ideal (60 − 20) / 20 = 2 s) and when the noisy one ends (ideal 29 s). The noisy
 * tenant's rows come first in the queue.
 */
export async function neighbourBenchmark(): Promise<ScenarioResult> {
  const rowsPerTenant = envNumber('BENCH_NEIGHBOUR_ROWS', 60);
  const r = await runScenario({
    label: 'neighbour',
    tenants: [{ throttle: sliding(2) }, ...Array.from({ length: 4 }, () => ({ throttle: sliding(20) }))],
    rowsPerTenant,
    configurationsPerTenant: 2,
  });
  const [noisy, ...quiet] = r.tenants as [ScenarioTenantResult, ...ScenarioTenantResult[]];
  const quietSeconds = Math.max(...quiet.map((t) => t.seconds));
  await header(
    `neighbour: 4 quiet tenants (20 writes/s each) beside a noisy one (2 writes/s), ${rowsPerTenant} rows each, GRAPH_RATE_LIMIT unset, ${r.processes} workers x ${r.concurrency}`,
  );
  printTable(TENANT_COLUMNS, [
    ...quiet.map((t, i) => tenantRow(`quiet ${i + 1}`, '20/1s', t)),
    groupRow('**the 4 quiet tenants**', '20/1s each', quiet, targetCells(quietSeconds, NEIGHBOUR_TARGET)),
    tenantRow('noisy', '2/1s', noisy, 'report | —'),
  ]);
  console.log(`duplicates ${r.duplicates}, failed ${r.failed}; truth: ${truthCell(r)}`);
  console.log(
    `wrote ${writeResult('neighbour', { rowsPerTenant, quietSeconds, noisySeconds: noisy.seconds, run: r })}`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------------
// token-outage, invalid-client

const OUTAGE_TARGET: Target = { op: '≤', value: 12, unit: 's' };
const INVALID_CLIENT_TARGET: Target = { op: '≤', value: 10, unit: 's' };
/** "Full pace" for the tenants beside the refused one: the throttle benchmark's target with GRAPH_RATE_LIMIT set. */
const BESIDE_INVALID_TARGET: Target = { op: '≥', value: 0.95 };

/**
 * `token-outage`: one tenant, 100 rows over 5 configurations, no throttle; the token endpoint answers
 * every request 503 without Retry-After (the emulator's token fault `serviceUnavailableNoRetryAfter`
 * at rate 1) from the queue's release until 6 s later, when the benchmark turns it off. Time until
 * every row ended (target ≤ 12 s).
 */
export async function tokenOutageBenchmark(): Promise<ScenarioResult> {
  const rows = envNumber('BENCH_TOKEN_OUTAGE_ROWS', 100);
  const outageMs = envNumber('BENCH_TOKEN_OUTAGE_S', 6) * 1000;
  let endedAt: number | undefined;
  const r = await runScenario({
    label: 'token-outage',
    tenants: [{}],
    rowsPerTenant: rows,
    configurationsPerTenant: 5,
    prepare: async ({ control }) => {
      // Workers ask for a token only when a row needs one, so nothing is refused before the release.
      await control.setTokenFaults({ serviceUnavailableNoRetryAfter: 1 });
      return {
        onRelease: async () => {
          const started = performance.now();
          await sleep(outageMs);
          await control.setTokenFaults({});
          endedAt = (performance.now() - started) / 1000;
        },
      };
    },
  });
  const t = r.tenants[0]!;
  const s = r.stats[t.tenantId];
  await header(
    `token-outage: ${rows} rows, one tenant, no throttle, the token endpoint 503 without Retry-After for the first ${outageMs / 1000} s, ${r.processes} workers x ${r.concurrency}`,
  );
  printTable(
    [
      'time until all rows ended (s)',
      'target',
      'met',
      'outage ended at (s)',
      'token requests',
      'of them refused (503)',
      'tokens issued',
      'duplicates',
      'failed',
      'truth',
    ],
    [
      [
        `**${r.seconds.toFixed(1)}**`,
        targetCells(r.seconds, OUTAGE_TARGET),
        fmt1(endedAt),
        t.tokenRequests,
        faultCounts(s).token,
        s?.tokensIssued ?? 0,
        mustBeZero(r.duplicates),
        mustBeZero(r.failed),
        truthCell(r),
      ],
    ],
  );
  console.log(`wrote ${writeResult('token-outage', { rows, outageMs, outageEndedSeconds: endedAt, run: r })}`);
  return r;
}

/**
 * `invalid-client`: three tenants, 200 rows each; the first one's token requests answer 401
 * `invalid_client` (AADSTS7000215) for the whole run, the other two run under a sliding 25/1s in the
 * emulator with GRAPH_RATE_LIMIT=25/1s. How long until the refused tenant's rows are all failed, with
 * what code (target ≤ 10 s; the project's code is E_AUTH_REJECTED, Entra's error invalid_client), and
 * the other two's ideal/time (target ≥ 0.95: full pace). The emulator refuses tokens for every
 * tenant or none, so the refusal comes from a gate in front of its token endpoint (bench/token-gate.ts).
 */
export async function invalidClientBenchmark(): Promise<ScenarioResult> {
  const rowsPerTenant = envNumber('BENCH_INVALID_CLIENT_ROWS', 200);
  let refusals = 0;
  const r = await runScenario({
    label: 'invalid-client',
    tenants: [{ expectFailed: true }, { throttle: sliding(25) }, { throttle: sliding(25) }],
    rowsPerTenant,
    configurationsPerTenant: 5,
    rateLimit: '25/1s',
    prepare: async ({ emulator, tenantIds }) => {
      const gate = await startTokenGate(emulator, [tenantIds[0]!]);
      return {
        env: { AZURE_AUTHORITY_HOST: gate.origin },
        close: async () => {
          refusals = gate.refused();
          await gate.close();
        },
      };
    },
  });
  const [refused, ...others] = r.tenants as [ScenarioTenantResult, ...ScenarioTenantResult[]];
  const codes = r.failures
    .filter((f) => f.tenantId === refused.tenantId)
    .map((f) => `${f.code} (${f.errorCode}) × ${f.rows}`)
    .join(', ');
  await header(
    `invalid-client: 3 tenants x ${rowsPerTenant} rows; tenant 1's token requests answer 401 invalid_client, tenants 2 and 3 a sliding 25/1s with GRAPH_RATE_LIMIT=25/1s, ${r.processes} workers x ${r.concurrency}`,
  );
  printTable(
    [
      'tenant',
      'measured',
      'target',
      'met',
      'failed rows',
      'codes',
      'token requests',
      'throttled',
      'max writes in any 1 s',
    ],
    [
      [
        '1 (invalid_client)',
        `all rows failed after **${refused.seconds.toFixed(1)} s**`,
        targetCells(refused.seconds, INVALID_CLIENT_TARGET),
        `${refused.failed} of ${refused.rows}`,
        codes || '—',
        `${refused.tokenRequests} at the emulator, ${refusals} refused by the gate`,
        refused.throttled,
        refused.maxWritesInWindow,
      ],
      ...others.map((t, i) => [
        `${i + 2} (25/1s)`,
        `**${fmt2(t.ratio)}** of ideal (${t.seconds.toFixed(1)} s, ideal ${fmt1(t.idealSeconds)} s)`,
        targetCells(t.ratio ?? 0, BESIDE_INVALID_TARGET),
        mustBeZero(t.failed),
        '—',
        t.tokenRequests,
        t.throttled,
        t.maxWritesInWindow,
      ]),
    ],
  );
  console.log(`duplicates ${r.duplicates}; truth: ${truthCell(r)}`);
  console.log(`wrote ${writeResult('invalid-client', { rowsPerTenant, gateRefusals: refusals, run: r })}`);
  return r;
}

/** A sum for a table cell, "—" when any part is unknown. */
function sum(values: (number | undefined)[]): string {
  return values.some((v) => v === undefined) ? '—' : String(values.reduce<number>((a, v) => a + (v ?? 0), 0));
}

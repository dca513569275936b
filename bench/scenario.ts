import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatorControl } from '../emulator/control-client.js';
import type { RunningEmulator } from '../emulator/emulator-server.js';
import type { TenantStats } from '../emulator/emulator-stats.js';
import type { EmulatorOptions } from '../emulator/emulator-server.js';
import type { ThrottleSpec } from '../emulator/throttle-model.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { startBenchEmulator } from './bench-emulator.js';
import { idealSeconds } from './rollout-pace.js';
import { syntheticRows } from './synthetic-rows.js';
import { timedRollout, type TimedRollout } from './timed-rollout.js';

/** Worker processes and WORKER_CONCURRENCY of the pacing scenarios, as in the throttle benchmark. */
export const SCENARIO_PROCESSES = 2;
export const SCENARIO_CONCURRENCY = 16;

export interface ScenarioTenant {
  /** Its own emulator throttle (`tenantThrottle`); none: the global one, if any. */
  throttle?: ThrottleSpec;
  /** Its rows are expected to fail (a revoked secret): they are checked as failed, not created. */
  expectFailed?: boolean;
}

/** What a scenario does beside the rollout; set up once the emulator runs. */
export interface ScenarioHooks {
  /** Worker environment on top of the emulator's (AZURE_AUTHORITY_HOST of a token gate…). */
  env?: NodeJS.ProcessEnv;
  /** Started when the queue is released; awaited before the run ends (see timedRollout). */
  onRelease?: () => Promise<void>;
  close?: () => Promise<void>;
}

export interface ScenarioOptions {
  label: string;
  tenants: ScenarioTenant[];
  rowsPerTenant: number;
  configurationsPerTenant: number;
  /** GRAPH_RATE_LIMIT of the workers, e.g. `25/1s`; undefined: unset (the pace is learned). */
  rateLimit?: string;
  /** The emulator (faults, a global throttle…); the tenants' own throttles are added to it. */
  emulator?: EmulatorOptions;
  /** After the emulator starts and before the rows are enqueued (fault rates through the control API…). */
  prepare?: (ctx: {
    emulator: RunningEmulator;
    control: EmulatorControl;
    tenantIds: string[];
  }) => Promise<ScenarioHooks>;
  processes?: number;
  concurrency?: number;
  /** See timedRollout's `truthAfterMs`. */
  truthAfterMs?: number;
}

export interface ScenarioTenantResult {
  tenantId: string;
  rows: number;
  /** From releasing the queue until its last row ended. */
  seconds: number;
  /** `(rows − max) / max × window` of its throttle, when it has one. */
  idealSeconds: number | undefined;
  /** ideal / seconds. */
  ratio: number | undefined;
  created: number;
  alreadyAssigned: number;
  failed: number;
  writesAccepted: number;
  throttled: number;
  sentDuringRetryAfter: number | undefined;
  maxWritesInWindow: number;
  tokenRequests: number;
  expectFailed: boolean;
}

export interface ScenarioResult {
  label: string;
  rows: number;
  rateLimit: string | null;
  processes: number;
  concurrency: number;
  /** From releasing the queue until every row ended. */
  seconds: number;
  tenants: ScenarioTenantResult[];
  /** Failed rows by tenant and code. */
  failures: TimedRollout<unknown>['failures'];
  failed: number;
  duplicates: number;
  /** Assignments the emulator holds, against the rows expected to be created. */
  assignments: number;
  expectedAssignments: number;
  /** Empty when the truth is as it must be; else what is wrong. */
  wrong: string[];
  /** The emulator's per-tenant counters after the run. */
  stats: Record<string, TenantStats>;
}

/**
 * One scenario: a private redis-server, an emulator in this process, `tenants.length` tenants with
 * `rowsPerTenant` new assignments each (interleaved, as syntheticRows lays them out), real worker
 * processes, timed by timedRollout. The truth is checked (no duplicate; no failed row but those of
 * tenants expected to fail; the emulator holding exactly the rows that should exist) and what is
 * wrong is reported in `wrong` rather than thrown, so a table still prints.
 */
export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-scenario-'));
  const tenantIds = o.tenants.map(() => randomUUID());
  const tenantThrottle: Record<string, ThrottleSpec> = {};
  o.tenants.forEach((t, i) => {
    if (t.throttle) tenantThrottle[tenantIds[i]!] = t.throttle;
  });
  const { emulator, control } = await startBenchEmulator(dir, { ...o.emulator, tenantThrottle });
  let hooks: ScenarioHooks = {};
  let clean = false;
  try {
    hooks = (await o.prepare?.({ emulator, control, tenantIds })) ?? {};
    const rows = syntheticRows(o.rowsPerTenant * tenantIds.length, {
      tenants: tenantIds,
      configurations: o.configurationsPerTenant,
    });
    const processes = o.processes ?? SCENARIO_PROCESSES;
    const concurrency = o.concurrency ?? SCENARIO_CONCURRENCY;
    const r = await timedRollout({
      redis,
      redisUrl: redisServer.url,
      emulator,
      rows,
      processes,
      concurrency,
      logDir: dir,
      env: { GRAPH_RATE_LIMIT: o.rateLimit ?? '', ...hooks.env },
      onRelease: hooks.onRelease,
      truthAfterMs: o.truthAfterMs,
    });
    const tenants = tenantIds.map((tenantId, i): ScenarioTenantResult => {
      const progress = r.status.tenants.find((t) => t.tenantId === tenantId);
      const s = r.stats.tenants[tenantId];
      const throttle = o.tenants[i]!.throttle ?? o.emulator?.throttle;
      const limit = throttle ?? (o.emulator?.rateLimit && { ...o.emulator.rateLimit });
      const seconds = r.tenantSeconds[tenantId] ?? r.seconds;
      const ideal = limit ? idealSeconds(o.rowsPerTenant, limit.max, limit.windowMs) : undefined;
      return {
        tenantId,
        rows: o.rowsPerTenant,
        seconds,
        idealSeconds: ideal,
        ratio: ideal === undefined ? undefined : ideal / seconds,
        created: progress?.created ?? 0,
        alreadyAssigned: progress?.alreadyAssigned ?? 0,
        failed: progress?.failed ?? 0,
        writesAccepted: s?.writesAccepted ?? 0,
        throttled: s?.throttled ?? 0,
        sentDuringRetryAfter: s?.sentDuringRetryAfter,
        maxWritesInWindow: s?.maxWritesInWindow ?? 0,
        tokenRequests: s?.tokenRequests ?? 0,
        expectFailed: o.tenants[i]!.expectFailed ?? false,
      };
    });
    const expectedFailed = tenants.filter((t) => t.expectFailed).reduce((a, t) => a + t.rows, 0);
    const expectedAssignments = rows.length - expectedFailed;
    const wrong: string[] = [];
    if (r.duplicates !== 0) wrong.push(`${r.duplicates} duplicates`);
    if (r.status.failed !== expectedFailed) wrong.push(`${r.status.failed} failed rows (expected ${expectedFailed})`);
    if (r.assignments !== expectedAssignments)
      wrong.push(`the emulator holds ${r.assignments} assignments (expected ${expectedAssignments})`);
    if (wrong.length > 0) console.error(`${o.label}: ${wrong.join(', ')}; worker logs kept in ${dir}`);
    clean = wrong.length === 0;
    return {
      label: o.label,
      rows: rows.length,
      rateLimit: o.rateLimit ?? null,
      processes,
      concurrency,
      seconds: r.seconds,
      tenants,
      failures: r.failures,
      failed: r.status.failed,
      duplicates: r.duplicates,
      assignments: r.assignments,
      expectedAssignments,
      wrong,
      stats: r.stats.tenants,
    };
  } finally {
    await hooks.close?.();
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
    // Worker logs are only worth keeping when something went wrong.
    if (clean) rmSync(dir, { recursive: true, force: true });
  }
}

/** `0` or `**3**`: a count that must be zero, bold when it is not. */
export function mustBeZero(n: number): string {
  return n === 0 ? '0' : `**${n}**`;
}

/** The truth check of a run for a table cell. */
export function truthCell(r: ScenarioResult): string {
  return r.wrong.length === 0 ? 'ok' : `**${r.wrong.join('; ')}**`;
}

/** Number of rows, or the value of a BENCH_* variable. */
export function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${value}'`);
  return n;
}

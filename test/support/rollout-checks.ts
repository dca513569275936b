import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import type { Outcome } from '../../lib/outcome.js';
import type { RolloutStatus } from '../../lib/rollout/rollout-store.js';
import { rolloutIdOf, type Stack } from './stack.js';

/**
 * What the integration tests say about a rollout, in the words of the CLI and the emulator: the
 * report and status as a person reads them (`assignments report|status`), and the emulator's truth.
 */

/** A line of `assignments report <id> --format json`. */
export type ReportRow = Omit<Outcome, 'outcome'> & { outcome: Outcome['outcome'] | 'pending' };

/** Writes the rows as CSV and enqueues them through the CLI; returns the rollout id. */
export async function enqueueRows(stack: Stack, rows: AssignmentRow[]): Promise<string> {
  return rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));
}

export async function statusOf(stack: Stack, rolloutId: string): Promise<RolloutStatus> {
  const run = await stack.cli(['status', rolloutId, '--json']);
  if (run.code !== 0) throw new Error(`status failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as RolloutStatus;
}

export async function reportOf(stack: Stack, rolloutId: string): Promise<ReportRow[]> {
  const run = await stack.cli(['report', rolloutId, '--format', 'json']);
  if (run.code !== 0) throw new Error(`report failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as ReportRow[];
}

/** The (tenant, configuration, group) of a row or of a report line. */
type Triple = Pick<AssignmentRow, 'tenantId' | 'configurationId' | 'groupId'>;

/** The emulator holds exactly one assignment for each row, and no duplicate anywhere. */
export async function expectEachAssignedOnce(stack: Stack, rows: readonly Triple[]): Promise<void> {
  const truth = await stack.control.truth();
  expect(truth.duplicates).toBe(0);
  const missing = rows.filter((r) => truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] !== 1);
  expect(
    missing.map(
      (r) =>
        `${r.tenantId}/${r.configurationId}/${r.groupId}: ${truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] ?? 0}`,
    ),
  ).toEqual([]);
}

/** The emulator holds no assignment for any of the rows. */
export async function expectNoneAssigned(stack: Stack, rows: readonly Triple[]): Promise<void> {
  const truth = await stack.control.truth();
  const present = rows.filter((r) => (truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] ?? 0) > 0);
  expect(present).toEqual([]);
}

/** Graph holds exactly one assignment for each succeeded row of the report, none for a failed one, no duplicates. */
export async function expectTruthMatchesReport(stack: Stack, report: readonly ReportRow[]): Promise<void> {
  const truth = await stack.control.truth();
  expect(truth.duplicates).toBe(0);
  const wrong = report
    .map((r) => ({
      row: r.row,
      outcome: r.outcome,
      inGraph: truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] ?? 0,
    }))
    .filter((r) => r.inGraph !== (r.outcome === 'failed' ? 0 : 1));
  expect(wrong).toEqual([]);
}

/** One report line per row, in input order, each `created` or `already-assigned` with an assignment id. */
export function expectAllSucceeded(report: readonly ReportRow[], rows: readonly AssignmentRow[]): void {
  expect(report.map((r) => `${r.tenantId}/${r.configurationId}/${r.groupId}`)).toEqual(
    rows.map((r) => `${r.tenantId}/${r.configurationId}/${r.groupId}`),
  );
  const notSucceeded = report.filter((r) => r.outcome !== 'created' && r.outcome !== 'already-assigned');
  expect(
    notSucceeded.map((r) => ({
      row: r.row,
      outcome: r.outcome,
      code: r.code,
      httpStatus: r.httpStatus,
      errorMessage: r.errorMessage,
    })),
  ).toEqual([]);
  for (const r of report) expect(r.assignmentId, `row ${r.row} has no assignmentId`).toMatch(/^[0-9a-f-]{36}$/);
}

/** The rollout is finished, with every row counted once, and `failed` rows as given. */
export async function expectFinished(
  stack: Stack,
  rolloutId: string,
  total: number,
  failed: number,
): Promise<RolloutStatus> {
  const status = await statusOf(stack, rolloutId);
  expect(status).toMatchObject({ total, pending: 0, failed, succeeded: total - failed, state: 'finished' });
  expect(status.created + status.alreadyAssigned + status.deleted + status.alreadyDeleted).toBe(status.succeeded);
  return status;
}

/** Polls `check` until it returns something truthy; throws with `what` after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The rollout's outcome counters straight from Redis (cheaper than spawning `status` in a poll loop). */
export async function progressOf(
  stack: Stack,
  rolloutId: string,
): Promise<{ total: number; done: number; pending: number }> {
  const h = await stack.redis.hgetall(`${stack.prefix}:rollout:${rolloutId}`);
  const total = Number(h.total ?? 0);
  const done = ['created', 'alreadyAssigned', 'deleted', 'alreadyDeleted', 'failed', 'cancelled'].reduce(
    (n, c) => n + Number(h[c] ?? 0),
    0,
  );
  return { total, done, pending: total - done };
}

/** Every key under `prefix:` with its whole value, one `key type value` line each, whatever its type. */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const lines: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', '1000');
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      switch (type) {
        case 'string':
          value = await redis.get(key);
          break;
        case 'hash':
          value = await redis.hgetall(key);
          break;
        case 'list':
          value = await redis.lrange(key, 0, -1);
          break;
        case 'set':
          value = await redis.smembers(key);
          break;
        case 'zset':
          value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
          break;
        case 'stream':
          value = await redis.xrange(key, '-', '+');
          break;
        case 'none':
          continue; // expired between SCAN and TYPE
        default:
          value = `<${type}>`;
      }
      lines.push(`${key} ${type} ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return lines.join('\n');
}

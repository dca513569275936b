import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { rowKey, type AssignmentRow } from '../../lib/assignment-row.js';
import { openQueue } from '../../lib/queues/assignment-queue.js';
import { RolloutStore } from '../../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../../producer/enqueue-rollout.js';
import { startStack, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap, type TapAction, type TappedRequest } from '../support/graph-tap.js';
import { reportOf, statusOf, waitUntil, type ReportRow } from '../support/rollout-checks.js';

/**
 * Delete rows ("prune" rows, as `assignments sync --prune` enqueues them): a row with an
 * `assignmentId` DELETEs that assignment through the tenant's lane, with the same markers, retries
 * and exactly-once outcomes as a create row. Real worker processes and the emulator, with an HTTPS
 * tap in front of Graph that can refuse a DELETE, drop it, or let it commit and then fail the answer.
 */

const RETENTION_MS = 30 * 24 * 3600_000;

/** Enqueues rows the way the sync does: enqueueRollout with a Queue and a RolloutStore. */
async function enqueue(stack: Stack, rows: AssignmentRow[], name?: string): Promise<string> {
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  const queue = openQueue(redis, stack.prefix);
  try {
    const store = new RolloutStore(redis, stack.prefix, RETENTION_MS);
    const input = {
      rows,
      lines: rows.map((_, i) => i + 1),
      inputRows: rows.length,
      duplicateRows: 0,
      format: 'json' as const,
    };
    return (await enqueueRollout(input, { queue, store }, { name, source: 'sync' })).rolloutId;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** Seeds `n` assignments of fresh groups in one configuration; returns them as delete rows. */
async function seed(stack: Stack, tenantId: string, configurationId: string, n: number): Promise<AssignmentRow[]> {
  const rows: AssignmentRow[] = [];
  for (let i = 0; i < n; i++) {
    const a = await stack.control.createAssignment(tenantId, configurationId, randomUUID());
    rows.push({ tenantId, configurationId, groupId: a.groupId, assignmentId: a.id });
  }
  return rows;
}

/** How many assignments Graph holds for the row's group. */
async function countIn(stack: Stack, r: AssignmentRow): Promise<number> {
  const truth = await stack.control.truth();
  return truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] ?? 0;
}

async function counts(stack: Stack, rows: readonly AssignmentRow[]): Promise<number[]> {
  const truth = await stack.control.truth();
  return rows.map((r) => truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId] ?? 0);
}

/** The assignment a tapped or intercepted DELETE/GET names (the last path segment). */
function assignmentOf(path: string): string {
  return path.split('?')[0]!.split('/').at(-1)!.toLowerCase();
}

function requestsFor(tap: GraphTap, method: string, assignmentId: string): TappedRequest[] {
  return tap.requests.filter(
    (r) =>
      r.method === method &&
      /\/assignments\/[^/]+$/.test(r.path.split('?')[0]!) &&
      assignmentOf(r.path) === assignmentId,
  );
}

const graphError = (
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): TapAction => ({
  status,
  body: { error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } } },
  headers: { 'request-id': randomUUID(), ...headers },
});

function isDeleteOfAssignment(req: IncomingMessage): string | undefined {
  if (req.method !== 'DELETE') return undefined;
  return assignmentOf(req.url ?? '');
}

describe('delete rows', () => {
  let stack: Stack;
  let tap: GraphTap;
  /** What the tap does with a DELETE of this assignment (undefined: pass it through). */
  let onDelete: (assignmentId: string) => TapAction | undefined = () => undefined;

  beforeAll(async () => {
    // A settle delay long enough for a `cancel` to arrive while an ambiguous DELETE's row waits it out.
    stack = await startStack({ env: { GRAPH_SETTLE_MS: '2500', RETRY_BASE_DELAY_MS: '200' } });
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) => {
      const id = isDeleteOfAssignment(req);
      return id === undefined ? undefined : onDelete(id);
    });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('remove exactly the targeted assignments, one DELETE each, and report them deleted', async () => {
    const [c1, c2] = [randomUUID(), randomUUID()];
    const first = await seed(stack, stack.tenantId, c1, 6);
    const second = await seed(stack, stack.tenantId, c2, 4);
    // One group assigned twice (a duplicate someone made by hand): remove one of the two.
    const twice = randomUUID();
    const d1 = await stack.control.createAssignment(stack.tenantId, c1, twice);
    await stack.control.createAssignment(stack.tenantId, c1, twice);
    const duplicate: AssignmentRow = {
      tenantId: stack.tenantId,
      configurationId: c1,
      groupId: twice,
      assignmentId: d1.id,
    };
    const targeted = [...first.slice(0, 3), ...second.slice(0, 2), duplicate];
    const untouched = [...first.slice(3), ...second.slice(2)];

    const rolloutId = await enqueue(stack, targeted, 'prune');
    await stack.waitFinished(rolloutId, 30_000);

    const status = await statusOf(stack, rolloutId);
    expect(status).toMatchObject({
      state: 'finished',
      total: 6,
      deleteRows: 6,
      pending: 0,
      succeeded: 6,
      failed: 0,
      created: 0,
      alreadyAssigned: 0,
      deleted: 6,
      alreadyDeleted: 0,
      cancelled: 0,
    });
    expect(status.tenants).toEqual([
      {
        tenantId: stack.tenantId,
        total: 6,
        pending: 0,
        succeeded: 6,
        failed: 0,
        created: 0,
        alreadyAssigned: 0,
        deleted: 6,
        alreadyDeleted: 0,
        cancelled: 0,
        pausedUntil: null,
      },
    ]);
    const report = await reportOf(stack, rolloutId);
    expect(report.map((r) => r.assignmentId)).toEqual(targeted.map((r) => r.assignmentId));
    for (const [i, r] of report.entries()) {
      expect(r).toMatchObject({
        row: i + 1,
        groupId: targeted[i]!.groupId,
        action: 'delete',
        outcome: 'deleted',
        httpStatus: 204,
        attempts: 1,
        code: null,
        retries: 0,
      });
      expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }

    expect(await counts(stack, targeted.slice(0, 5))).toEqual([0, 0, 0, 0, 0]);
    expect(await countIn(stack, duplicate)).toBe(1);
    expect(await counts(stack, untouched)).toEqual(untouched.map(() => 1));
    for (const r of targeted) expect(requestsFor(tap, 'DELETE', r.assignmentId!)).toHaveLength(1);
    // A delete row's marker has served its purpose once the row has its outcome.
    for (const r of targeted) expect(await stack.redis.exists(`${stack.prefix}:marker:${rowKey(r)}`)).toBe(0);
  });

  it('reports a DELETE answered 404, with no earlier DELETE of ours, as already-deleted', async () => {
    const c = randomUUID();
    const [present] = await seed(stack, stack.tenantId, c, 1);
    const gone: AssignmentRow = {
      tenantId: stack.tenantId,
      configurationId: c,
      groupId: randomUUID(),
      assignmentId: randomUUID(),
    };
    const elsewhere: AssignmentRow = {
      tenantId: stack.tenantId,
      configurationId: randomUUID(),
      groupId: randomUUID(),
      assignmentId: randomUUID(),
    };
    const rolloutId = await enqueue(stack, [present!, gone, elsewhere]);
    await stack.waitFinished(rolloutId, 30_000);

    expect(await statusOf(stack, rolloutId)).toMatchObject({
      state: 'finished',
      total: 3,
      succeeded: 3,
      deleted: 1,
      alreadyDeleted: 2,
      failed: 0,
    });
    const report = await reportOf(stack, rolloutId);
    expect(report[0]).toMatchObject({
      action: 'delete',
      outcome: 'deleted',
      httpStatus: 204,
      assignmentId: present!.assignmentId,
    });
    for (const r of report.slice(1))
      expect(r).toMatchObject({
        action: 'delete',
        outcome: 'already-deleted',
        httpStatus: 404,
        attempts: 1,
        code: null,
        errorCode: null,
      });
    expect(report[1]!.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const only = JSON.parse(
      (await stack.cli(['report', rolloutId, '--outcome', 'already-deleted'])).stdout,
    ) as ReportRow[];
    expect(only.map((r) => r.assignmentId)).toEqual([gone.assignmentId, elsewhere.assignmentId]);
    const deletedOnly = JSON.parse(
      (await stack.cli(['report', rolloutId, '--outcome', 'deleted'])).stdout,
    ) as ReportRow[];
    expect(deletedOnly.map((r) => r.row)).toEqual([1]);
  });

  it('runs creates and deletes side by side in one rollout, and status, list and report show both', async () => {
    const c = randomUUID();
    const old = await seed(stack, stack.tenantId, c, 4);
    const fresh: AssignmentRow[] = Array.from({ length: 4 }, () => ({
      tenantId: stack.tenantId,
      configurationId: c,
      groupId: randomUUID(),
    }));
    const rows = fresh.flatMap((f, i) => [f, old[i]!]);
    const rolloutId = await enqueue(stack, rows, 'sync with prune');
    await stack.waitFinished(rolloutId, 30_000);

    expect(await statusOf(stack, rolloutId)).toMatchObject({
      state: 'finished',
      total: 8,
      deleteRows: 4,
      succeeded: 8,
      created: 4,
      deleted: 4,
      alreadyAssigned: 0,
      alreadyDeleted: 0,
      failed: 0,
    });
    const report = await reportOf(stack, rolloutId);
    expect(report.map((r) => `${r.action} ${r.outcome}`)).toEqual(
      rows.map((_, i) => (i % 2 === 0 ? 'create created' : 'delete deleted')),
    );
    expect(report.map((r) => r.groupId)).toEqual(rows.map((r) => r.groupId));
    for (const r of report.filter((x) => x.action === 'create'))
      expect(r).toMatchObject({ httpStatus: 201, attempts: 1 });
    expect(await counts(stack, fresh)).toEqual([1, 1, 1, 1]);
    expect(await counts(stack, old)).toEqual([0, 0, 0, 0]);
    expect((await stack.control.truth()).duplicates).toBe(0);

    // Redis keeps `action` only for delete rows.
    const stored = await stack.redis.hmget(
      `${stack.prefix}:rollout:${rolloutId}:outcomes`,
      rowKey(rows[0]!),
      rowKey(rows[1]!),
    );
    expect(JSON.parse(stored[0]!)).not.toHaveProperty('action');
    expect(JSON.parse(stored[1]!)).toMatchObject({
      action: 'delete',
      outcome: 'deleted',
      assignmentId: old[0]!.assignmentId,
    });

    const human = await stack.cli(['status', rolloutId]);
    expect(human.stdout).toMatch(/^succeeded 8 \(created 4, already assigned 0, deleted 4, already deleted 0\)$/m);
    expect(human.stdout).toMatch(
      /^tenant\s+total\s+pending\s+created\s+already\s+deleted\s+already deleted\s+failed\s+cancelled\s+lane$/m,
    );
    expect(human.stdout).toMatch(
      new RegExp(`^${stack.tenantId}\\s+8\\s+0\\s+4\\s+0\\s+4\\s+0\\s+0\\s+0\\s+open$`, 'm'),
    );

    const list = await stack.cli(['list']);
    const [header, ...lines] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^rollout\s+name\s+created at\s+state\s+total\s+pending\s+created\s+already\s+deleted\s+already deleted\s+failed\s+cancelled$/,
    );
    expect(lines.find((l) => l.startsWith(rolloutId))).toMatch(/\s+finished\s+8\s+0\s+4\s+0\s+4\s+0\s+0\s+0$/);

    const watch = await stack.cli(['status', rolloutId, '--watch']);
    expect(watch.code).toBe(0);
    expect(watch.stdout).toMatch(
      /^finished 8\/8 rows in \S+ \| created 4 already 0 deleted 4 already-deleted 0 failed 0 cancelled 0\n$/,
    );

    const csvPath = join(stack.dir, 'mixed.csv');
    expect((await stack.cli(['report', rolloutId, '--format', 'csv', '--output', csvPath])).code).toBe(0);
    const csv = parse(readFileSync(csvPath), { columns: true }) as Record<string, string>[];
    expect(Object.keys(csv[0]!).slice(0, 7)).toEqual([
      'rolloutId',
      'row',
      'tenantId',
      'configurationId',
      'groupId',
      'action',
      'outcome',
    ]);
    expect(csv.map((r) => r.action)).toEqual([
      'create',
      'delete',
      'create',
      'delete',
      'create',
      'delete',
      'create',
      'delete',
    ]);
    const table = (await stack.cli(['report', rolloutId, '--format', 'table'])).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/\s+groupId\s+action\s+outcome\s+http\s+/);
    expect(table[2]).toMatch(/ delete\s+deleted\s+204\s+1\s+0$/);
  });

  it('fails a DELETE that Graph refuses with 403, and retry re-runs the row as a DELETE', async () => {
    const c = randomUUID();
    const [refused, fine] = await seed(stack, stack.tenantId, c, 2);
    onDelete = (id) =>
      id === refused!.assignmentId
        ? graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
        : undefined;
    const rolloutId = await enqueue(stack, [refused!, fine!]);
    await stack.waitFinished(rolloutId, 30_000);
    onDelete = () => undefined;

    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'finished', failed: 1, deleted: 1, succeeded: 1 });
    const [a, b] = await reportOf(stack, rolloutId);
    expect(a).toMatchObject({
      action: 'delete',
      outcome: 'failed',
      assignmentId: refused!.assignmentId,
      httpStatus: 403,
      code: 'E_GRAPH_FORBIDDEN',
      errorCode: 'Authorization_RequestDenied',
      errorMessage: 'Insufficient privileges to complete the operation.',
      attempts: 1,
    });
    expect(b).toMatchObject({ action: 'delete', outcome: 'deleted' });
    expect(await countIn(stack, refused!)).toBe(1);
    expect(await stack.redis.exists(`${stack.prefix}:marker:${rowKey(refused!)}`)).toBe(0);

    // Permission granted: retry the failed row. Its new job is made from the row key, so it is a DELETE again.
    const retry = await stack.cli(['retry', rolloutId, '--json']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ retried: 1, retryNumber: 1 });
    await stack.waitFinished(rolloutId, 30_000);
    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'finished', failed: 0, deleted: 2, retries: 1 });
    const [again] = await reportOf(stack, rolloutId);
    expect(again).toMatchObject({
      action: 'delete',
      outcome: 'deleted',
      assignmentId: refused!.assignmentId,
      httpStatus: 204,
      attempts: 2,
      retries: 1,
    });
    expect(await countIn(stack, refused!)).toBe(0);
    expect(requestsFor(tap, 'DELETE', refused!.assignmentId!).map((r) => r.status)).toEqual([403, 204]);
    expect((await stack.cli(['retry', rolloutId])).stderr).toMatch(/no failed rows: nothing to retry/);
  });

  it('cancels queued delete rows, which keep their assignments, and retry --outcome cancelled deletes them', async () => {
    // A tenant whose lane is paused for the next two minutes: its rows park in the delayed set.
    const tenant = randomUUID();
    const lane = `${stack.prefix}:lane:${tenant}`;
    await stack.redis.hset(lane, 'pausedUntil', Date.now() + 120_000);
    const rows = await seed(stack, tenant, randomUUID(), 5);
    const rolloutId = await enqueue(stack, rows);
    await waitUntil(
      'the rows parked for their lane',
      async () => (await stack.redis.zcard(`${stack.prefix}:assignments:delayed`)) === 5,
    );

    // Pending delete rows already name the assignment they are to remove.
    for (const [i, r] of (await reportOf(stack, rolloutId)).entries())
      expect(r).toMatchObject({
        action: 'delete',
        outcome: 'pending',
        assignmentId: rows[i]!.assignmentId,
        attempts: 0,
      });
    const running = await stack.cli(['status', rolloutId]);
    expect(running.stdout).toMatch(/^succeeded 0 \(created 0, already assigned 0, deleted 0, already deleted 0\)$/m);

    const cancel = await stack.cli(['cancel', rolloutId, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ cancelled: 5, inFlight: 0 });
    expect(await statusOf(stack, rolloutId)).toMatchObject({
      state: 'cancelled',
      cancelled: 5,
      deleted: 0,
      pending: 0,
    });
    const report = await reportOf(stack, rolloutId);
    for (const [i, r] of report.entries())
      expect(r).toMatchObject({
        action: 'delete',
        outcome: 'cancelled',
        assignmentId: rows[i]!.assignmentId,
        attempts: 0,
      });
    expect(await counts(stack, rows)).toEqual([1, 1, 1, 1, 1]);

    // The lane reopens; the cancelled rows are resumed, as DELETEs.
    await stack.redis.del(lane, `${lane}:reservations`);
    const retry = await stack.cli(['retry', rolloutId, '--outcome', 'cancelled', '--json']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ outcome: 'cancelled', retried: 5 });
    await stack.waitFinished(rolloutId, 30_000);
    expect(await statusOf(stack, rolloutId)).toMatchObject({
      state: 'finished',
      deleted: 5,
      cancelled: 0,
      cancelledAt: null,
    });
    for (const r of await reportOf(stack, rolloutId))
      expect(r).toMatchObject({ action: 'delete', outcome: 'deleted', httpStatus: 204, retries: 1 });
    expect(await counts(stack, rows)).toEqual([0, 0, 0, 0, 0]);
  });

  it('after cancel, a row whose DELETE may have landed looks instead of deleting again: deleted if gone, cancelled if not', async () => {
    const tenant = randomUUID();
    const [landed, refused] = await seed(stack, tenant, randomUUID(), 2);
    // Graph commits one DELETE but answers 504; the other fails with a 500 before doing anything.
    onDelete = (id) =>
      id === landed!.assignmentId
        ? {
            afterCommit: {
              status: 504,
              body: { error: { code: 'GatewayTimeout', message: 'The operation timed out.' } },
            },
          }
        : id === refused!.assignmentId
          ? graphError(500, 'InternalServerError', 'An internal server error occurred.')
          : undefined;
    const rolloutId = await enqueue(stack, [landed!, refused!]);
    const markers = [landed!, refused!].map((r) => `${stack.prefix}:marker:${rowKey(r)}`);
    await waitUntil('both DELETEs ended in doubt', async () =>
      (await stack.redis.mget(...markers)).every((m) => m?.startsWith(`ended|${rolloutId}|`)),
    );

    // Both rows wait out GRAPH_SETTLE_MS before their next try: the cancel comes first.
    const cancel = await stack.cli(['cancel', rolloutId, '--json']);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ cancelled: 0, inFlight: 2 });
    await stack.waitFinished(rolloutId, 30_000);
    onDelete = () => undefined;

    expect(await statusOf(stack, rolloutId)).toMatchObject({
      state: 'cancelled',
      deleted: 1,
      cancelled: 1,
      failed: 0,
      pending: 0,
    });
    const [a, b] = await reportOf(stack, rolloutId);
    expect(a).toMatchObject({
      action: 'delete',
      outcome: 'deleted',
      assignmentId: landed!.assignmentId,
      httpStatus: 404,
      attempts: 1,
    });
    expect(b).toMatchObject({
      action: 'delete',
      outcome: 'cancelled',
      assignmentId: refused!.assignmentId,
      attempts: 1,
    });
    expect(await countIn(stack, landed!)).toBe(0);
    expect(await countIn(stack, refused!)).toBe(1);
    // One DELETE each, then one look each: no new write for a cancelled rollout.
    expect(requestsFor(tap, 'DELETE', landed!.assignmentId!)).toHaveLength(1);
    expect(requestsFor(tap, 'DELETE', refused!.assignmentId!)).toHaveLength(1);
    expect(requestsFor(tap, 'GET', landed!.assignmentId!)).toHaveLength(1);
    expect(requestsFor(tap, 'GET', refused!.assignmentId!)).toHaveLength(1);
  });
});

/** The ways the tap fails a DELETE, in the order rows meet them. */
const FAULTS: { name: string; action: TapAction }[] = [
  { name: 'commit, then reset', action: { afterCommit: 'reset' } },
  {
    name: 'commit, then 504',
    action: {
      afterCommit: { status: 504, body: { error: { code: 'GatewayTimeout', message: 'The operation timed out.' } } },
    },
  },
  { name: 'reset before Graph', action: { reset: true } },
  { name: '429', action: graphError(429, 'TooManyRequests', 'Too many requests.', { 'retry-after': '0.3' }) },
  { name: 'commit, then no answer', action: { afterCommit: 'hang' } },
  {
    name: '503',
    action: graphError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', { 'retry-after': '0.2' }),
  },
  { name: '500', action: graphError(500, 'InternalServerError', 'An internal server error occurred.') },
];

describe('delete rows through Graph faults', () => {
  let stack: Stack;
  let tap: GraphTap;
  const seen = new Map<string, number>();
  const drawn = new Map<string, number>();
  /** Assignment id -> how many of its DELETEs fail, and from which fault on. */
  const plan = new Map<string, { faults: number; from: number }>();

  beforeAll(async () => {
    stack = await startStack({
      // The emulator throttles too: writes beyond 10/s answer 429.
      emulator: { rateLimit: { max: 10, windowMs: 1000 } },
      env: { GRAPH_SETTLE_MS: '600', GRAPH_TIMEOUT_MS: '1000', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_ATTEMPTS: '20' },
    });
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) => {
      const id = isDeleteOfAssignment(req);
      const p = id === undefined ? undefined : plan.get(id);
      if (id === undefined || !p) return undefined;
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      if (n >= p.faults) return undefined;
      const fault = FAULTS[(p.from + n) % FAULTS.length]!;
      drawn.set(fault.name, (drawn.get(fault.name) ?? 0) + 1);
      return fault.action;
    });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('ends every delete row deleted, none failed nor already-deleted, and removes exactly the targeted assignments', async () => {
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const seeded: AssignmentRow[] = [];
    for (const t of tenants) for (let c = 0; c < 2; c++) seeded.push(...(await seed(stack, t, randomUUID(), 6)));
    const targeted = seeded.filter((_, i) => i % 3 !== 2);
    const untouched = seeded.filter((_, i) => i % 3 === 2);
    // Up to three failed DELETEs per row, every kind of fault met.
    targeted.forEach((r, i) => plan.set(r.assignmentId!, { faults: i % 4, from: i }));
    const creates: AssignmentRow[] = tenants.map((tenantId) => ({
      tenantId,
      configurationId: seeded.find((r) => r.tenantId === tenantId)!.configurationId,
      groupId: randomUUID(),
    }));
    const rows = [...targeted, ...creates];

    const rolloutId = await enqueue(stack, rows);
    await stack.waitFinished(rolloutId, 60_000);

    const status = await statusOf(stack, rolloutId);
    expect(status).toMatchObject({
      state: 'finished',
      total: rows.length,
      failed: 0,
      deleted: targeted.length,
      alreadyDeleted: 0,
      created: creates.length,
      succeeded: rows.length,
    });
    const report = await reportOf(stack, rolloutId);
    targeted.forEach((r, i) => {
      expect(report[i]).toMatchObject({ action: 'delete', outcome: 'deleted', assignmentId: r.assignmentId });
      // every DELETE counts, the failed ones too
      expect(report[i]!.attempts).toBeGreaterThanOrEqual((i % 4) + 1);
    });
    for (const r of report.slice(targeted.length)) expect(r).toMatchObject({ action: 'create', outcome: 'created' });
    expect(await counts(stack, targeted)).toEqual(targeted.map(() => 0));
    expect(await counts(stack, untouched)).toEqual(untouched.map(() => 1));
    expect(await counts(stack, creates)).toEqual(creates.map(() => 1));
    expect((await stack.control.truth()).duplicates).toBe(0);
    // The faults really happened.
    expect([...drawn.keys()].sort()).toEqual(FAULTS.map((f) => f.name).sort());
  });
});

describe('delete rows that run out of attempts', () => {
  let stack: Stack;
  let tap: GraphTap;
  let onDelete: () => TapAction | undefined = () => undefined;

  beforeAll(async () => {
    stack = await startStack({ env: { GRAPH_SETTLE_MS: '500', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_ATTEMPTS: '1' } });
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) =>
      isDeleteOfAssignment(req) === undefined ? undefined : onDelete(),
    );
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('reports deleted, never failed, when the only DELETE was committed but not answered', async () => {
    let n = 0;
    onDelete = () =>
      n++ % 2 === 0
        ? { afterCommit: 'reset' }
        : {
            afterCommit: {
              status: 504,
              body: { error: { code: 'GatewayTimeout', message: 'The operation timed out.' } },
            },
          };
    const rows = await seed(stack, stack.tenantId, randomUUID(), 8);
    const rolloutId = await enqueue(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);
    onDelete = () => undefined;

    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'finished', failed: 0, deleted: 8 });
    // The last look (a GET answered 404) decided each row.
    for (const r of await reportOf(stack, rolloutId))
      expect(r).toMatchObject({ action: 'delete', outcome: 'deleted', httpStatus: 404, attempts: 1 });
    expect(await counts(stack, rows)).toEqual(rows.map(() => 0));
    for (const r of rows) {
      expect(requestsFor(tap, 'DELETE', r.assignmentId!)).toHaveLength(1);
      expect(requestsFor(tap, 'GET', r.assignmentId!)).toHaveLength(1);
    }
  });

  it('reports failed, with the reason it gave up, when the only DELETE did not land', async () => {
    onDelete = () => graphError(500, 'InternalServerError', 'An internal server error occurred.');
    const rows = await seed(stack, stack.tenantId, randomUUID(), 4);
    const rolloutId = await enqueue(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);
    onDelete = () => undefined;

    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'finished', failed: 4, deleted: 0 });
    for (const r of await reportOf(stack, rolloutId)) {
      expect(r).toMatchObject({
        action: 'delete',
        outcome: 'failed',
        code: 'E_GRAPH_SERVER_ERROR',
        httpStatus: 500,
        errorCode: 'InternalServerError',
        attempts: 1,
      });
      expect(r.errorMessage).toMatch(/gave up after 1 attempts?\)$/);
    }
    expect(await counts(stack, rows)).toEqual(rows.map(() => 1));
    for (const r of rows) {
      expect(requestsFor(tap, 'DELETE', r.assignmentId!)).toHaveLength(1);
      expect(requestsFor(tap, 'GET', r.assignmentId!)).toHaveLength(1);
    }
  });
});

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { makeRows, rolloutIdOf, useStack } from '../support/stack.js';

/**
 * The whole path with real parts: CLI enqueue -> Redis -> two worker processes (MSAL, TLS, got) ->
 * the emulator -> one truthful outcome per row, checked against the emulator's truth.
 */
describe('a rollout end to end', () => {
  const stack = useStack();

  it('creates each assignment exactly once, reports pre-existing ones as already-assigned, and reports every row', async () => {
    const tenants = [stack.tenantId, randomUUID(), randomUUID()];
    const rows = makeRows(tenants, 2, 20);
    await stack.control.createConfigurations(rows);
    // Two groups were assigned before the rollout (by hand, in Intune).
    await stack.control.createAssignment(rows[0]!.tenantId, rows[0]!.configurationId, rows[0]!.groupId);
    await stack.control.createAssignment(rows[45]!.tenantId, rows[45]!.configurationId, rows[45]!.groupId);
    // The same row twice, once in upper case, is one row.
    const file = stack.writeCsv([...rows, { ...rows[3]!, groupId: rows[3]!.groupId.toUpperCase() }]);

    await stack.worker();
    await stack.worker();
    const enqueue = await stack.cli(['enqueue', file, '--json']);
    const rolloutId = rolloutIdOf(enqueue);
    const enqueued = JSON.parse(enqueue.stdout);
    expect(enqueued).toMatchObject({ rolloutId, total: rows.length, duplicateRows: 1 });

    await stack.waitFinished(rolloutId);
    const status = JSON.parse((await stack.cli(['status', rolloutId, '--json'])).stdout);
    expect(status).toMatchObject({
      rolloutId,
      total: 120,
      pending: 0,
      succeeded: 120,
      failed: 0,
      created: 118,
      alreadyAssigned: 2,
      state: 'finished',
    });

    const truth = await stack.control.truth();
    expect(truth.duplicates).toBe(0);
    for (const r of rows) expect(truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId]).toBe(1);

    const report = JSON.parse((await stack.cli(['report', rolloutId, '--format', 'json'])).stdout) as Record<
      string,
      unknown
    >[];
    expect(report).toHaveLength(120);
    expect(report.map((r) => r.groupId)).toEqual(rows.map((r) => r.groupId));
    expect(report[0]).toMatchObject({ outcome: 'already-assigned', tenantId: rows[0]!.tenantId });
    expect(report[1]).toMatchObject({ outcome: 'created', httpStatus: 201, attempts: 1 });
    for (const r of report) {
      expect(['created', 'already-assigned']).toContain(r.outcome);
      expect(r.assignmentId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.finishedAt).toBeTruthy();
    }
    const created = report.filter((r) => r.outcome === 'created');
    for (const r of created) expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const csvPath = join(stack.dir, 'report.csv');
    const csvRun = await stack.cli(['report', rolloutId, '--format', 'csv', '--output', csvPath]);
    expect(csvRun.code).toBe(0);
    const csv = parse(readFileSync(csvPath), { columns: true }) as Record<string, string>[];
    expect(csv).toHaveLength(120);
    expect(Object.keys(csv[0]!)).toEqual(
      expect.arrayContaining([
        'tenantId',
        'configurationId',
        'groupId',
        'outcome',
        'assignmentId',
        'httpStatus',
        'attempts',
        'requestId',
        'errorCode',
        'errorMessage',
        'finishedAt',
      ]),
    );

    // Finished jobs do not stay in Redis.
    const jobKeys = await stack.redis.keys(`${stack.prefix}:assignments:${rolloutId}-*`);
    expect(jobKeys).toEqual([]);
  });

  it('enqueuing the same file again while it runs creates no second assignment', async () => {
    const rows = makeRows([stack.tenantId], 3, 30);
    await stack.control.createConfigurations(rows);
    const file = stack.writeCsv(rows);
    const first = rolloutIdOf(await stack.cli(['enqueue', file, '--json']));
    const second = rolloutIdOf(await stack.cli(['enqueue', file, '--json']));
    expect(second).not.toBe(first);
    await stack.waitFinished(first);
    await stack.waitFinished(second);
    const truth = await stack.control.truth();
    expect(truth.duplicates).toBe(0);
    for (const r of rows) expect(truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId]).toBe(1);
    for (const id of [first, second]) {
      const status = JSON.parse((await stack.cli(['status', id, '--json'])).stdout);
      expect(status).toMatchObject({ total: 90, succeeded: 90, failed: 0 });
    }
  });
});

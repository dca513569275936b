import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { makeRows, rolloutIdOf, startStack, useStack, type Stack } from '../support/stack.js';
import { enqueueRows, type ReportRow } from '../support/rollout-checks.js';

const FIELDS = [
  'rolloutId',
  'row',
  'tenantId',
  'configurationId',
  'groupId',
  'action',
  'outcome',
  'assignmentId',
  'httpStatus',
  'attempts',
  'requestId',
  'clientRequestId',
  'code',
  'errorCode',
  'errorMessage',
  'finishedAt',
  'retries',
];

/**
 * `assignments report` through the real CLI: every field the pipeline records, in input order, as
 * JSON, CSV or an aligned table; `--outcome` keeps the rows of one outcome; a large report streams.
 */
describe('report of a finished rollout', () => {
  let stack: Stack;
  let rows: AssignmentRow[];
  let rolloutId: string;
  let missingConfiguration: string;

  beforeAll(async () => {
    stack = await startStack({
      emulator: { strictConfigurations: true },
      env: { RETRY_BASE_DELAY_MS: '100', GRAPH_SETTLE_MS: '500' },
    });
    const good = (await stack.control.createConfiguration(stack.tenantId)).id;
    missingConfiguration = randomUUID();
    rows = Array.from({ length: 24 }, (_, i) => ({
      tenantId: stack.tenantId,
      configurationId: i % 3 === 1 ? missingConfiguration : good,
      groupId: randomUUID(),
    }));
    await stack.control.createAssignment(stack.tenantId, good, rows[0]!.groupId);
    await stack.worker();
    rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('has one row per input row, in order, with every recorded field, retries included', async () => {
    const run = await stack.cli(['report', rolloutId]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ReportRow[];
    expect(report.map((r) => r.groupId)).toEqual(rows.map((r) => r.groupId));
    expect(report.map((r) => r.row)).toEqual(rows.map((_, i) => i + 1));
    for (const r of report) expect(Object.keys(r)).toEqual(FIELDS);
    expect(report[0]).toMatchObject({ action: 'create', outcome: 'already-assigned', retries: 0 });
    expect(report[1]).toMatchObject({
      outcome: 'failed',
      httpStatus: 404,
      code: 'E_GRAPH_NOT_FOUND',
      errorCode: 'ResourceNotFound',
      retries: 0,
    });
    expect(report[2]).toMatchObject({ outcome: 'created', httpStatus: 201, attempts: 1, retries: 0 });
  });

  it('--outcome failed keeps only the failed rows, in input order, in every format', async () => {
    const failedRows = rows.filter((r) => r.configurationId === missingConfiguration);
    expect(failedRows).toHaveLength(8);

    const json = JSON.parse(
      (await stack.cli(['report', rolloutId, '--outcome', 'failed', '--format', 'json'])).stdout,
    ) as ReportRow[];
    expect(json.map((r) => r.groupId)).toEqual(failedRows.map((r) => r.groupId));
    expect(json.map((r) => r.row)).toEqual([2, 5, 8, 11, 14, 17, 20, 23]);
    for (const r of json) expect(r.outcome).toBe('failed');

    const csvPath = join(stack.dir, 'failed.csv');
    expect(
      (await stack.cli(['report', rolloutId, '--outcome', 'failed', '--format', 'csv', '--output', csvPath])).code,
    ).toBe(0);
    const csv = parse(readFileSync(csvPath), { columns: true }) as Record<string, string>[];
    expect(Object.keys(csv[0]!)).toEqual(FIELDS);
    expect(csv.map((r) => r.groupId)).toEqual(failedRows.map((r) => r.groupId));
    expect(csv[0]).toMatchObject({ outcome: 'failed', httpStatus: '404', assignmentId: '', retries: '0' });

    const none = await stack.cli(['report', rolloutId, '--outcome', 'pending']);
    expect(none).toMatchObject({ code: 0, stdout: '[]\n' });
    const bad = await stack.cli(['report', rolloutId, '--outcome', 'lost']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--outcome');
  });

  it('--format table prints aligned columns, a line per row, error messages cut to fit', async () => {
    const run = await stack.cli(['report', rolloutId, '--format', 'table']);
    expect(run.code).toBe(0);
    const [header, ...lines] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^\s+row {2}tenantId\s+configurationId\s+groupId\s+action\s+outcome\s+http {2}attempts {2}retries {2}code\s+errorCode\s+errorMessage$/,
    );
    expect(lines).toHaveLength(rows.length);
    lines.forEach((line, i) => {
      expect(line).toMatch(
        new RegExp(`^\\s*${i + 1}  ${rows[i]!.tenantId}  ${rows[i]!.configurationId}  ${rows[i]!.groupId}  `),
      );
      // every column starts where its header does
      const columns =
        rows[i]!.configurationId === missingConfiguration
          ? ['outcome', 'attempts', 'code ', 'errorMessage']
          : ['outcome', 'attempts'];
      for (const column of columns) expect(line.slice(header!.indexOf(column) - 2, header!.indexOf(column))).toBe('  ');
    });
    expect(lines[0]).toMatch(/ already-assigned /);
    // the configuration's 404 came from the read before any POST: no attempt
    expect(lines[1]).toMatch(/ failed\s+404\s+0\s+0 {2}E_GRAPH_NOT_FOUND\s+ResourceNotFound\s+\S.*…$/);
    expect(lines[2]).toMatch(/ created\s+201\s+1\s+0$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(header!.length + 60);

    const failed = await stack.cli(['report', rolloutId, '--format', 'table', '--outcome', 'failed']);
    const failedLines = failed.stdout.trimEnd().split('\n').slice(1);
    expect(failedLines.map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([2, 5, 8, 11, 14, 17, 20, 23]);
  });
});

describe('report of a large rollout', () => {
  const stack = useStack();

  it('streams 20,000 pending rows in input order as JSON and as CSV', async () => {
    // No worker runs: every row stays pending.
    const rows = makeRows([stack.tenantId, randomUUID()], 4, 2500);
    const rolloutId = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));

    const json = await stack.cli(['report', rolloutId, '--format', 'json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as ReportRow[];
    expect(report).toHaveLength(20_000);
    expect(report[0]).toMatchObject({
      row: 1,
      ...rows[0],
      action: 'create',
      outcome: 'pending',
      assignmentId: null,
      attempts: 0,
      retries: 0,
      finishedAt: '',
    });
    expect(report[19_999]).toMatchObject({ row: 20_000, ...rows[19_999], outcome: 'pending' });
    expect(report[10_000]).toMatchObject({ row: 10_001, groupId: rows[10_000]!.groupId });
    expect(report.every((r, i) => r.row === i + 1 && r.outcome === 'pending')).toBe(true);

    const csvPath = join(stack.dir, 'large.csv');
    expect((await stack.cli(['report', rolloutId, '--format', 'csv', '--output', csvPath])).code).toBe(0);
    const csv = parse(readFileSync(csvPath), { columns: true }) as Record<string, string>[];
    expect(csv).toHaveLength(20_000);
    expect(csv[0]).toMatchObject({ row: '1', groupId: rows[0]!.groupId, outcome: 'pending' });
    expect(csv[19_999]).toMatchObject({ row: '20000', groupId: rows[19_999]!.groupId, outcome: 'pending' });

    const table = await stack.cli(['report', rolloutId, '--format', 'table', '--outcome', 'pending']);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20_001);
    expect(lines[20_000]).toMatch(new RegExp(`^  20000  ${rows[19_999]!.tenantId}  `));
  });
});

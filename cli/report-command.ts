import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { NO_RESULT, OUTCOME_FIELDS, OUTCOME_KINDS, rowFieldsOf, type Outcome } from '../lib/outcome.js';
import { parseRowKey } from '../lib/assignment-row.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { openClient } from './command-context.js';
import { FixedWidthTable } from './text-table.js';

export type ReportFormat = 'json' | 'csv' | 'table';

/** A row's outcome in a report: one of the outcomes, or `pending` while the row has none yet. */
export type ReportOutcome = Outcome['outcome'] | 'pending';

export const REPORT_OUTCOMES: readonly ReportOutcome[] = [...OUTCOME_KINDS, 'pending'];

/** A report row: every field of the outcome (`retries` always set), or the row's ids with outcome `pending`. */
export type ReportRow = Omit<Outcome, 'outcome' | 'retries'> & { outcome: ReportOutcome; retries: number };

export interface ReportOptions {
  /** Only rows with this outcome (default: every row). */
  outcome?: ReportOutcome;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('one line per row of the rollout, in input order, with its outcome')
    .argument('<rolloutId>')
    .addOption(
      new Option('--format <format>', 'json (an array), csv, or table (aligned columns for a terminal)')
        .choices(['json', 'csv', 'table'])
        .default('json'),
    )
    .addOption(new Option('--outcome <outcome>', 'only rows with this outcome').choices(REPORT_OUTCOMES as string[]))
    .option('--output <file>', 'write to a file instead of stdout')
    .action(async (rolloutId: string, options: { format: ReportFormat; outcome?: ReportOutcome; output?: string }) => {
      const { config, redis } = await openClient();
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        if (!(await store.status(rolloutId))) {
          throw new UserError(
            ErrorCodes.ROLLOUT_NOT_FOUND,
            `no rollout ${JSON.stringify(rolloutId)} (QUEUE_PREFIX=${config.queuePrefix})`,
          );
        }
        const file = options.output ? createWriteStream(options.output) : undefined;
        if (file) await once(file, 'open'); // an unwritable path fails here, before any row is read
        await writeReport(store, rolloutId, options.format, file ?? process.stdout, { outcome: options.outcome });
        if (file) {
          file.end();
          await once(file, 'finish');
        }
      } finally {
        await redis.quit();
      }
    });
}

/**
 * Streams the report: rows come from Redis a chunk at a time (RolloutStore.outcomes) and leave in
 * blocks of about 64 KiB, waiting for `out` to drain, so memory stays flat whatever the rollout's size.
 * Returns the number of rows written.
 */
export async function writeReport(
  store: RolloutStore,
  rolloutId: string,
  format: ReportFormat,
  out: Writable,
  options: ReportOptions = {},
): Promise<number> {
  const sink = new BlockWriter(out);
  const encoder = ENCODERS[format]();
  let count = 0;
  await sink.push(encoder.start());
  for await (const item of store.outcomes(rolloutId)) {
    const row = toReportRow(rolloutId, item);
    if (options.outcome && row.outcome !== options.outcome) continue;
    await sink.push(encoder.row(row, count));
    count++;
  }
  await sink.push(encoder.end(count));
  await sink.flush();
  return count;
}

interface ReportEncoder {
  start(): string;
  row(row: ReportRow, index: number): string;
  end(count: number): string;
}

/** The fields of a row in OUTCOME_FIELDS order (the same for every row, stored or pending). */
function ordered(row: ReportRow): Record<string, unknown> {
  const record = row as unknown as Record<string, unknown>;
  return Object.fromEntries(OUTCOME_FIELDS.map((f) => [f, record[f] ?? null]));
}

const ENCODERS: Record<ReportFormat, () => ReportEncoder> = {
  json: () => ({
    start: () => '[',
    row: (row, index) => `${index === 0 ? '\n' : ',\n'}${JSON.stringify(ordered(row))}`,
    end: (count) => (count === 0 ? ']\n' : '\n]\n'),
  }),
  csv: () => ({
    start: () => stringify([OUTCOME_FIELDS as string[]]),
    row: (row) => stringify([Object.values(ordered(row))]),
    end: () => '',
  }),
  table: () => {
    const table = new FixedWidthTable(TABLE_COLUMNS);
    return { start: () => table.header(), row: (row) => table.row(row), end: () => '' };
  },
};

const text = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));

/** A terminal's subset of the fields, at fixed widths so the table streams (GUIDs are 36 wide). */
const TABLE_COLUMNS = [
  { header: 'row', width: 7, align: 'right' as const, value: (r: ReportRow) => text(r.row) },
  { header: 'tenantId', width: 36, value: (r: ReportRow) => r.tenantId },
  { header: 'configurationId', width: 36, value: (r: ReportRow) => r.configurationId },
  { header: 'groupId', width: 36, value: (r: ReportRow) => r.groupId },
  { header: 'action', width: 6, value: (r: ReportRow) => r.action },
  { header: 'outcome', width: 16, value: (r: ReportRow) => r.outcome },
  { header: 'http', width: 4, align: 'right' as const, value: (r: ReportRow) => text(r.httpStatus) },
  { header: 'attempts', width: 8, align: 'right' as const, value: (r: ReportRow) => text(r.attempts) },
  { header: 'retries', width: 7, align: 'right' as const, value: (r: ReportRow) => text(r.retries) },
  { header: 'code', width: 24, value: (r: ReportRow) => text(r.code) },
  { header: 'errorCode', width: 20, value: (r: ReportRow) => text(r.errorCode) },
  { header: 'errorMessage', width: 60, value: (r: ReportRow) => text(r.errorMessage) },
];

/** Collects small strings into blocks and writes each block honouring backpressure. */
class BlockWriter {
  private block = '';

  constructor(
    private readonly out: Writable,
    private readonly blockChars = 64 * 1024,
  ) {}

  async push(text: string): Promise<void> {
    this.block += text;
    if (this.block.length >= this.blockChars) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.block) return;
    const text = this.block;
    this.block = '';
    if (!this.out.write(text)) await once(this.out, 'drain');
  }
}

function toReportRow(
  rolloutId: string,
  item: { rowKey: string; row: number; outcome: Outcome | null; retries: number },
): ReportRow {
  if (item.outcome) return { ...item.outcome, retries: item.retries };
  const { assignmentId, ...rowIds } = rowFieldsOf(parseRowKey(item.rowKey));
  return {
    rolloutId,
    row: item.row,
    ...rowIds,
    outcome: 'pending',
    ...NO_RESULT,
    // a pending delete row already names the assignment it is to remove
    assignmentId,
    attempts: 0,
    finishedAt: '',
    retries: item.retries,
  };
}

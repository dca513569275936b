import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { stringify } from 'csv-stringify';
import { RolloutStore } from '../rollout/rollout-store.js';
import { OUTCOME_FIELDS, type Outcome } from '../outcome.js';
import { UserError } from '../errors/user-error.js';
import { ErrorCodes } from '../errors/codes.js';
import { openClient } from './command-context.js';
import type { Redis } from 'ioredis';

export type ReportFormat = 'json' | 'csv';

/** A report row: the outcome, or the row's ids with outcome `pending` while it runs. */
type ReportRow = Omit<Outcome, 'outcome'> & { outcome: Outcome['outcome'] | 'pending' };

export function reportCommand(): Command {
  return new Command('report')
    .description('one line per row of the rollout, in input order, with its outcome')
    .argument('<rolloutId>')
    .addOption(new Option('--format <format>', 'json (an array) or csv').choices(['json', 'csv']).default('json'))
    .option('--output <file>', 'write to a file instead of stdout')
    .action(async (rolloutId: string, options: { format: ReportFormat; output?: string }) => {
      const { config, redis } = await openClient();
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        if (!(await store.status(rolloutId))) {
          throw new UserError(ErrorCodes.ROLLOUT_NOT_FOUND, `no rollout ${JSON.stringify(rolloutId)} (QUEUE_PREFIX=${config.queuePrefix})`);
        }
        const out = options.output ? createWriteStream(options.output) : process.stdout;
        await writeReport(store, rolloutId, options.format, out);
        if (options.output) {
          out.end();
          await once(out, 'finish');
        }
      } finally {
        await redis.quit();
      }
    });
}

/** Streams the report: rows are read from Redis a chunk at a time, never all at once. */
export async function writeReport(store: RolloutStore, rolloutId: string, format: ReportFormat, out: Writable): Promise<number> {
  let count = 0;
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (format === 'json') {
    await write('[');
    for await (const item of store.outcomes(rolloutId)) {
      await write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(toReportRow(rolloutId, item))}`);
      count++;
    }
    await write(count === 0 ? ']\n' : '\n]\n');
    return count;
  }
  const csv = stringify({ header: true, columns: OUTCOME_FIELDS as string[], cast: { boolean: String } });
  csv.on('data', (chunk: Buffer) => out.write(chunk));
  for await (const item of store.outcomes(rolloutId)) {
    if (!csv.write(toReportRow(rolloutId, item))) await once(csv, 'drain');
    count++;
  }
  csv.end();
  await once(csv, 'end');
  return count;
}

function toReportRow(rolloutId: string, item: { rowKey: string; row: number; outcome: Outcome | null }): ReportRow {
  if (item.outcome) return item.outcome;
  const [tenantId = '', configurationId = '', groupId = ''] = item.rowKey.split('/');
  return {
    rolloutId,
    row: item.row,
    tenantId,
    configurationId,
    groupId,
    outcome: 'pending',
    assignmentId: null,
    httpStatus: null,
    attempts: 0,
    requestId: null,
    clientRequestId: null,
    code: null,
    errorCode: null,
    errorMessage: null,
    finishedAt: '',
  };
}

export type { Redis };

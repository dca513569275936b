import { open } from 'node:fs/promises';
import { rowKey, type AssignmentRow } from '../lib/assignment-row.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { UserError } from '../lib/errors/user-error.js';
import { formatFromPath, sniffFormat, type InputFormat } from './input-format.js';
import { InputProblems } from './input-problems.js';
import { rolloutRows } from './rollout-rows.js';

export interface RolloutFileOptions {
  /** Tenant for rows without a tenantId (AZURE_TENANT_ID); unset means such rows are problems. */
  defaultTenantId?: string;
  /** Read for the path `-`; defaults to process.stdin. */
  stdin?: NodeJS.ReadableStream;
  /** Longest accepted CSV line, CSV record or JSON array item, in bytes; default 1 MiB (1048576). */
  maxLineBytes?: number;
}

/** A whole rollout input, validated: what the producer enqueues. */
export interface RolloutInput {
  /** Unique rows in first-seen input order. */
  rows: AssignmentRow[];
  /** lines[i] = file line number where rows[i] first appeared. */
  lines: number[];
  /** Data rows read, duplicates included. */
  inputRows: number;
  /** Rows dropped as duplicates of an earlier row. */
  duplicateRows: number;
  format: 'csv' | 'json';
}

/**
 * Reads and validates a rollout input file (CSV or JSON; `-` is stdin) in full before anything is
 * enqueued. Any problem throws a UserError (E_INPUT_INVALID, exit 2) listing up to 50 of them as
 * `<name>:<line>: <reason>`; a file that cannot be opened or read throws E_INPUT_UNREADABLE.
 * The same (tenant, configuration, group) twice is one row: the first is kept, the rest counted.
 */
export async function readRolloutFile(path: string, options: RolloutFileOptions = {}): Promise<RolloutInput> {
  const displayName = path === '-' ? 'stdin' : path;
  const unreadable = (err: unknown): UserError | undefined => {
    const code = systemErrorCode(err);
    return code === undefined ? undefined : new UserError(ErrorCodes.INPUT_UNREADABLE, `${displayName}: cannot read (${code})`);
  };

  let source: AsyncIterable<Buffer | string>;
  if (path === '-') {
    source = options.stdin ?? process.stdin;
  } else {
    try {
      // Opened up front so a missing file is one clear error, not a stream error mid-read.
      source = (await open(path, 'r')).createReadStream();
    } catch (err) {
      throw unreadable(err) ?? err;
    }
  }

  const problems = new InputProblems(displayName);
  const rows: AssignmentRow[] = [];
  const lines: number[] = [];
  const seen = new Set<string>();
  let inputRows = 0;
  let format: InputFormat;
  try {
    const pathFormat = path === '-' ? undefined : formatFromPath(path);
    if (pathFormat === undefined) ({ format, source } = await sniffFormat(source));
    else format = pathFormat;

    const events = rolloutRows(source, { format, defaultTenantId: options.defaultTenantId, maxLineBytes: options.maxLineBytes });
    for await (const event of events) {
      if ('problem' in event) {
        problems.add(event.line, event.problem);
        continue;
      }
      inputRows++;
      const key = rowKey(event.row);
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(event.row);
      lines.push(event.line);
    }
  } catch (err) {
    throw unreadable(err) ?? err;
  }

  if (problems.count > 0) throw problems.toUserError();
  return { rows, lines, inputRows, duplicateRows: inputRows - rows.length, format };
}

/** `ENOENT`, `EISDIR`, `EACCES`…: the errno code of a failed open or read, or undefined for anything else. */
function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  return /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
}

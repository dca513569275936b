import { open } from 'node:fs/promises';
import type { AssignmentRow } from '../lib/assignment-row.js';
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

/**
 * Reads a rollout input (CSV or JSON; `-` is stdin) as it streams and hands each valid row to
 * `visit`, in file order, with the line it starts on. Memory is bounded by one chunk and one line,
 * whatever the input's size, plus whatever `visit` keeps. Rows are not de-duplicated here.
 *
 * Problems are collected as they come (at most 50 kept) and thrown together once the whole input has
 * been read, as a UserError (E_INPUT_INVALID, exit 2) listing them as `<name>:<line>: <reason>`; an
 * input that cannot be opened or read throws E_INPUT_UNREADABLE. So `visit` must only collect: a bad
 * row on the last line invalidates the first, and nothing may be enqueued before this resolves.
 */
export async function forEachValidRow(
  path: string,
  options: RolloutFileOptions,
  visit: (row: AssignmentRow, line: number) => void,
): Promise<{ format: InputFormat }> {
  const displayName = path === '-' ? 'stdin' : path;
  const unreadable = (err: unknown): UserError | undefined => {
    const code = systemErrorCode(err);
    return code === undefined
      ? undefined
      : new UserError(ErrorCodes.INPUT_UNREADABLE, `${displayName}: cannot read (${code})`);
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
  let format: InputFormat;
  try {
    const pathFormat = path === '-' ? undefined : formatFromPath(path);
    if (pathFormat === undefined) ({ format, source } = await sniffFormat(source));
    else format = pathFormat;

    const events = rolloutRows(source, {
      format,
      defaultTenantId: options.defaultTenantId,
      maxLineBytes: options.maxLineBytes,
    });
    for await (const event of events) {
      if ('problem' in event) problems.add(event.line, event.problem);
      else visit(event.row, event.line);
    }
  } catch (err) {
    throw unreadable(err) ?? err;
  }

  if (problems.count > 0) throw problems.toUserError();
  return { format };
}

/** `ENOENT`, `EISDIR`, `EACCES`…: the errno code of a failed open or read, or undefined for anything else. */
function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  return /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
}

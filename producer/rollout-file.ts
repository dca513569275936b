import { rowKey, type AssignmentRow } from '../lib/assignment-row.js';
import { forEachValidRow, type RolloutFileOptions } from './valid-rows.js';

export type { RolloutFileOptions } from './valid-rows.js';

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
 * Reads and validates a rollout input file (CSV or JSON; `-` is stdin) in full, into memory. Any
 * problem throws a UserError (E_INPUT_INVALID, exit 2) listing up to 50 of them as
 * `<name>:<line>: <reason>`; a file that cannot be opened or read throws E_INPUT_UNREADABLE.
 * The same (tenant, configuration, group) twice is one row: the first is kept, the rest counted.
 *
 * For callers that want every row as an object with its line. `enqueue` uses `scanRolloutFile`
 * instead, which keeps rows packed (see producer/rollout-scan.ts).
 */
export async function readRolloutFile(path: string, options: RolloutFileOptions = {}): Promise<RolloutInput> {
  const rows: AssignmentRow[] = [];
  const lines: number[] = [];
  const seen = new Set<string>();
  let inputRows = 0;
  const { format } = await forEachValidRow(path, options, (row, line) => {
    inputRows++;
    const key = rowKey(row);
    if (seen.has(key)) return;
    seen.add(key);
    rows.push(row);
    lines.push(line);
  });
  return { rows, lines, inputRows, duplicateRows: inputRows - rows.length, format };
}

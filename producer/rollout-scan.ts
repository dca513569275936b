import type { InputFormat } from './input-format.js';
import { UniqueRows } from './unique-rows.js';
import { forEachValidRow, type RolloutFileOptions } from './valid-rows.js';

/** A rollout input after the validation pass: everything `enqueue` needs, and nothing more. */
export interface ScannedRollout {
  /** Unique rows in first-seen input order, packed. */
  rows: UniqueRows;
  /** Data rows read, duplicates included. */
  inputRows: number;
  /** Rows dropped as duplicates of an earlier row. */
  duplicateRows: number;
  /** Distinct tenant ids, in first-seen order. */
  tenants: string[];
  /** Distinct (tenant, configuration) pairs. */
  configurations: number;
  format: InputFormat;
}

/**
 * The validation pass of `enqueue`: reads the whole input once, as it streams, and keeps only the
 * unique rows, packed (about 100 bytes a row; see UniqueRows), and the counts the rollout record
 * needs. Problems anywhere throw E_INPUT_INVALID after the whole input was read, before anything is
 * enqueued, exactly as `readRolloutFile`: the two share one reader.
 */
export async function scanRolloutFile(path: string, options: RolloutFileOptions = {}): Promise<ScannedRollout> {
  const rows = new UniqueRows();
  const tenants = new Set<string>();
  const configurations = new Set<string>();
  let inputRows = 0;
  const { format } = await forEachValidRow(path, options, (row) => {
    inputRows++;
    if (!rows.add(row)) return;
    tenants.add(row.tenantId);
    configurations.add(`${row.tenantId}/${row.configurationId}`);
  });
  return {
    rows,
    inputRows,
    duplicateRows: inputRows - rows.size,
    tenants: [...tenants],
    configurations: configurations.size,
    format,
  };
}

import { checkedText, DEFAULT_MAX_LINE_BYTES } from './checked-text.js';
import { csvRows } from './csv-rows.js';
import type { InputFormat } from './input-format.js';
import { jsonRows } from './json-rows.js';
import type { RolloutRowEvent } from './row-event.js';

export interface RolloutRowsOptions {
  /** Decided by the caller: from the file name (`formatFromPath`) or the content (`sniffFormat`). */
  format: InputFormat;
  /** Tenant for rows without a tenantId, i.e. AZURE_TENANT_ID; unset means such rows are problems. */
  defaultTenantId?: string;
  /**
   * Longest accepted CSV line, in bytes; default 1 MiB. Also caps one CSV record (which may span
   * lines) and one JSON array item; JSON lines themselves are not capped.
   */
  maxLineBytes?: number;
}

/**
 * The core of reading a rollout input: every data row or problem, in file order, as the bytes arrive.
 * Memory is bounded by one chunk plus one line, whatever the file's size, so a caller can validate a
 * 100,000-row file (or later stream it into the queue) without holding it. Rows are not de-duplicated
 * here; that needs every key seen so far, which is the caller's memory to spend.
 *
 * Problems do not stop the read unless the rest of the file can no longer be understood (binary data,
 * an over-long line, a missing column, a CSV syntax error, broken JSON array punctuation); the last
 * event is then that problem.
 * I/O errors from `source` are thrown as they are.
 */
export async function* rolloutRows(
  source: AsyncIterable<Buffer | string>,
  options: RolloutRowsOptions,
): AsyncGenerator<RolloutRowEvent> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const { defaultTenantId } = options;
  if (options.format === 'json') {
    // JSON.stringify and `jq -c` write the whole array on one line, so JSON caps items, not lines.
    const text = checkedText(source, { maxLineBytes, lines: 'any-length' });
    yield* jsonRows(text, { defaultTenantId, maxItemBytes: maxLineBytes });
  } else {
    const text = checkedText(source, { maxLineBytes });
    yield* csvRows(text, { defaultTenantId, maxRecordChars: maxLineBytes });
  }
}

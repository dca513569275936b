import type { AssignmentRow } from '../lib/assignment-row.js';

/** Bytes of one packed row: three GUIDs of 16 bytes each. */
const PACKED_ROW_BYTES = 48;

/**
 * The unique rows of a rollout input, in first-seen order, held as compactly as exactness allows:
 * each row is its three GUIDs as 48 raw bytes (a 48-character one-byte string, about 64 bytes on the
 * heap), against about 130 bytes for the `tenant/configuration/group` text key and about 300 for an
 * AssignmentRow object. 100,000 rows cost about 10 MB with the Set's own table.
 *
 * This one Set is both the de-duplication and the rows the enqueue pass writes, so the input is read
 * once: stdin needs no spooling, and a file edited between validation and enqueue cannot put rows in
 * the queue that were never validated. A Set of 128-bit hashes and a second read of the file would
 * save about 3 MB per 100,000 rows, but cost a second parse (about 2 s per 100,000 CSV rows, more
 * than the enqueue's own overhead), a spool file for stdin, and a hash can collide where packed ids
 * cannot.
 *
 * Rows must hold normalized ids (lower-case hyphenated GUIDs, as `rowValidator` produces): they come
 * back lower-case and hyphenated. `add` refuses an id of the wrong length or with a non-hex digit
 * rather than pack it wrong.
 */
export class UniqueRows implements Iterable<AssignmentRow> {
  private readonly packed = new Set<string>();

  get size(): number {
    return this.packed.size;
  }

  /** Adds the row unless an equal row was added before; returns whether it was new. */
  add(row: AssignmentRow): boolean {
    const key = packRow(row);
    if (this.packed.has(key)) return false;
    this.packed.add(key);
    return true;
  }

  /** The rows in the order they were first added. */
  *[Symbol.iterator](): Iterator<AssignmentRow> {
    for (const key of this.packed) yield unpackRow(key);
  }
}

/** Length of a normalized object id: 32 hex digits and 4 hyphens. */
const GUID_CHARS = 36;

function packRow(row: AssignmentRow): string {
  const { tenantId, configurationId, groupId } = row;
  const hex = `${tenantId}${configurationId}${groupId}`.replaceAll('-', '');
  // Buffer's hex decoding stops at the first non-hex pair, so a short result means a malformed id;
  // rowValidator has checked every id already, and this keeps a future caller from packing garbage.
  const bytes = Buffer.from(hex, 'hex');
  if (
    tenantId.length !== GUID_CHARS ||
    configurationId.length !== GUID_CHARS ||
    groupId.length !== GUID_CHARS ||
    bytes.length !== PACKED_ROW_BYTES
  ) {
    throw new TypeError(`not a row of normalized object ids: ${JSON.stringify(row)}`);
  }
  // latin1 maps each byte to one character: a one-byte string of exactly 48 characters.
  return bytes.toString('latin1');
}

function unpackRow(key: string): AssignmentRow {
  const hex = Buffer.from(key, 'latin1').toString('hex');
  if (hex.length !== PACKED_ROW_BYTES * 2) throw new TypeError('a packed row must be 48 bytes');
  return { tenantId: guid(hex, 0), configurationId: guid(hex, 32), groupId: guid(hex, 64) };
}

function guid(hex: string, at: number): string {
  const h = hex.slice(at, at + 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

import { CsvError, parse } from 'csv-parse';
import type { CheckedText, TextFault } from './checked-text.js';
import { countLineBreaks } from './line-breaks.js';
import type { RolloutRowEvent } from './row-event.js';
import { rowValidator, showValue } from './row-validation.js';

export interface CsvRowsOptions {
  /** Tenant for rows without a `tenantId` (AZURE_TENANT_ID); unset means such rows are problems. */
  defaultTenantId?: string;
  /** Largest accepted record (all its fields), in characters; bounds memory for multi-line quoted fields. */
  maxRecordChars: number;
}

const EMPTY_FILE = 'file is empty (expected a header row with configurationId,groupId)';
const REQUIRED_COLUMNS = ['configurationId', 'groupId'] as const;
const OPTIONAL_COLUMNS = ['tenantId'] as const;
/** How many header names a "missing column" problem quotes before it stops listing. */
const MAX_SHOWN_HEADER_NAMES = 10;

/** Where each id sits in a record, by position; read once from the header row. */
interface ColumnPositions {
  configurationId: number;
  groupId: number;
  tenantId: number | undefined;
}

/** What csv-parse hands `on_record` when `raw` is on: the fields and the record's text as written. */
interface ParsedRecord {
  record: string[];
  raw: string;
}

/**
 * Reads CSV with a header row into rows and problems. The header decides which columns hold the ids
 * (case-insensitive, trimmed, any order, others ignored); blank lines, and rows whose fields are all
 * blank, are skipped, as spreadsheets leave them behind. csv-parse does the CSV itself: quotes,
 * multi-line fields, CRLF. A CSV syntax error stops the read: after a stray quote the parser can no
 * longer tell where records begin, so later "problems" would be noise.
 */
export async function* csvRows(
  text: AsyncIterable<CheckedText>,
  options: CsvRowsOptions,
): AsyncGenerator<RolloutRowEvent> {
  const parsed: ParsedRecord[] = [];
  const parser = parse({
    // The raw text is what line numbers are counted from (see below).
    raw: true,
    // Short and long rows are judged per row below ("missing groupId"), not as a parse failure.
    relax_column_count: true,
    // Tolerates `a, "b"`, common in hand-written files; spaces inside quotes are kept.
    trim: true,
    // Every common line ending, even mixed in one file (files concatenated from several sources).
    record_delimiter: ['\r\n', '\n', '\r'],
    max_record_size: options.maxRecordChars,
    // Records are taken here, as each chunk is parsed, not read from the stream: a stream that fails
    // discards what it has buffered, and with it the rows (and their problems) before the error.
    on_record: (value: unknown) => {
      parsed.push(asParsedRecord(value));
      return null;
    },
  });
  // Parse errors arrive through the write and end callbacks; this listener only keeps the stream's
  // 'error' event from counting as unhandled.
  parser.on('error', () => undefined);

  const validate = rowValidator(options.defaultTenantId);
  let nextLine = 1;
  let columns: ColumnPositions | undefined;
  let headerLine = 1;
  let dataRows = 0;

  /** Turns the records parsed so far into events; returns true when the header makes the rest unreadable. */
  function* drain(): Generator<RolloutRowEvent, boolean> {
    for (const { record, raw } of parsed.splice(0)) {
      const line = nextLine;
      // csv-parse's info.lines counts a CRLF inside quotes twice, so lines are counted from the raw text.
      nextLine += countLineBreaks(raw);
      if (record.every((field) => field.trim() === '')) continue;
      if (columns === undefined) {
        const header = readHeader(record);
        if ('problem' in header) {
          yield { line, problem: header.problem };
          return true;
        }
        columns = header;
        headerLine = line;
        continue;
      }
      dataRows++;
      const validation = validate({
        configurationId: record[columns.configurationId],
        groupId: record[columns.groupId],
        tenantId: columns.tenantId === undefined ? undefined : record[columns.tenantId],
      });
      if ('row' in validation) yield { line, row: validation.row };
      else for (const problem of validation.problems) yield { line, problem };
    }
    return false;
  }

  let fault: TextFault | undefined;
  let error: Error | undefined;
  try {
    for await (const piece of text) {
      if ('fault' in piece) {
        fault = piece.fault;
        break;
      }
      error = await new Promise<Error | undefined>((resolve) =>
        parser.write(piece.bytes, (err) => resolve(err ?? undefined)),
      );
      if (yield* drain()) return;
      if (error !== undefined) break;
    }
    // After a fault the text ends at the last whole line, so ending the parser still reads every record before it.
    if (error === undefined) {
      error = await new Promise<Error | undefined>((resolve) =>
        parser.end((err?: Error | null) => resolve(err ?? undefined)),
      );
      if (yield* drain()) return;
    }
  } finally {
    parser.destroy();
  }

  if (error !== undefined) {
    if (!(error instanceof CsvError)) throw error;
    // Cut off at a faulty line, a quoted field may look unclosed; the fault is the real problem.
    if (!(fault !== undefined && error.code === 'CSV_QUOTE_NOT_CLOSED')) {
      yield { line: nextLine, problem: describeCsvError(error, options.maxRecordChars) };
      return;
    }
  }
  if (fault !== undefined) yield { line: fault.line, problem: fault.problem };
  else if (columns === undefined) yield { line: 1, problem: EMPTY_FILE };
  else if (dataRows === 0) yield { line: headerLine, problem: 'no rows after the header' };
}

function asParsedRecord(value: unknown): ParsedRecord {
  // csv-parse's types describe on_record without `raw`; check the shape rather than trust a cast.
  if (typeof value === 'object' && value !== null && 'record' in value && 'raw' in value) {
    const { record, raw } = value;
    if (
      Array.isArray(record) &&
      record.every((field): field is string => typeof field === 'string') &&
      typeof raw === 'string'
    ) {
      return { record, raw };
    }
  }
  throw new TypeError('csv-parse returned a record without its raw text');
}

function readHeader(record: string[]): ColumnPositions | { problem: string } {
  const names = record.map((name) => name.trim());
  const keys = names.map((name) => name.toLowerCase());
  const positions = new Map<string, number>();
  for (const column of [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]) {
    const key = column.toLowerCase();
    const first = keys.indexOf(key);
    if (first === -1) continue;
    // Two columns answering to one name: using either would silently ignore the other.
    if (keys.indexOf(key, first + 1) !== -1)
      return { problem: `column ${column} appears more than once in the header` };
    positions.set(column, first);
  }
  const configurationId = positions.get('configurationId');
  const groupId = positions.get('groupId');
  if (configurationId === undefined || groupId === undefined) {
    const missing = REQUIRED_COLUMNS.filter((column) => !positions.has(column));
    const plural = missing.length > 1 ? 's' : '';
    return { problem: `missing column${plural} ${missing.join(', ')} (header has: ${showHeader(names)})` };
  }
  return { configurationId, groupId, tenantId: positions.get('tenantId') };
}

function showHeader(names: string[]): string {
  const shown = names.slice(0, MAX_SHOWN_HEADER_NAMES).map((name) => {
    // Bare names read best; quote only what would be ambiguous or unprintable.
    return /^[\w .-]{1,40}$/.test(name) ? name : showValue(name);
  });
  if (names.length > MAX_SHOWN_HEADER_NAMES) shown.push('…');
  return shown.join(', ');
}

/** csv-parse's messages are long and name its own line count; these say what to fix. */
function describeCsvError(err: CsvError, maxRecordChars: number): string {
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is not closed before the end of the file';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'text after the closing quote of a field (inside quotes, write a quote as "")';
    case 'INVALID_OPENING_QUOTE':
      return 'a quote inside an unquoted field (quote the whole field and write the quote as "")';
    case 'CSV_MAX_RECORD_SIZE':
      return `record longer than ${maxRecordChars} characters`;
    default:
      return `not valid CSV (${err.code})`;
  }
}

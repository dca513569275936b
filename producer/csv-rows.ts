import { Readable, pipeline } from 'node:stream';
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

/** What csv-parse yields with `raw` on. */
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
export async function* csvRows(text: AsyncIterable<CheckedText>, options: CsvRowsOptions): AsyncGenerator<RolloutRowEvent> {
  let fault: TextFault | undefined;
  async function* plainText(): AsyncGenerator<Buffer> {
    for await (const piece of text) {
      if ('fault' in piece) {
        // End the text cleanly at the last whole line so every record before the fault is still read.
        fault = piece.fault;
        return;
      }
      yield piece.bytes;
    }
  }

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
  });
  // Errors reach this generator through the parser's iterator; the pipeline is here to tear both
  // streams down together whichever side stops first.
  pipeline(Readable.from(plainText()), parser, () => undefined);

  const validate = rowValidator(options.defaultTenantId);
  let nextLine = 1;
  let columns: ColumnPositions | undefined;
  let headerLine = 1;
  let dataRows = 0;
  try {
    for await (const parsed of parser as AsyncIterable<ParsedRecord>) {
      const { record, raw } = parsed;
      const line = nextLine;
      // csv-parse's info.lines counts a CRLF inside quotes twice, so lines are counted from the raw text.
      nextLine += countLineBreaks(raw);
      if (record.every((field) => field.trim() === '')) continue;
      if (columns === undefined) {
        const header = readHeader(record);
        if ('problem' in header) {
          yield { line, problem: header.problem };
          return;
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
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    // Cut off at a faulty line, a quoted field may look unclosed; the fault is the real problem.
    if (!(fault !== undefined && err.code === 'CSV_QUOTE_NOT_CLOSED')) {
      yield { line: nextLine, problem: describeCsvError(err, options.maxRecordChars) };
      return;
    }
  }
  if (fault !== undefined) {
    yield { line: fault.line, problem: fault.problem };
    return;
  }
  if (columns === undefined) yield { line: 1, problem: EMPTY_FILE };
  else if (dataRows === 0) yield { line: headerLine, problem: 'no rows after the header' };
}

function readHeader(record: string[]): ColumnPositions | { problem: string } {
  const names = record.map((name) => name.trim());
  const lower = names.map((name) => name.toLowerCase());
  const find = (column: string): number | undefined | { problem: string } => {
    const first = lower.indexOf(column.toLowerCase());
    if (first === -1) return undefined;
    // Two columns answering to one name: picking either would silently ignore the other.
    if (lower.indexOf(column.toLowerCase(), first + 1) !== -1) return { problem: `column ${column} appears more than once in the header` };
    return first;
  };

  const found = new Map<string, number>();
  const missing: string[] = [];
  for (const column of [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]) {
    const position = find(column);
    if (typeof position === 'object') return position;
    if (position !== undefined) found.set(column, position);
    else if ((REQUIRED_COLUMNS as readonly string[]).includes(column)) missing.push(column);
  }
  const configurationId = found.get('configurationId');
  const groupId = found.get('groupId');
  if (missing.length > 0 || configurationId === undefined || groupId === undefined) {
    const plural = missing.length > 1 ? 's' : '';
    return { problem: `missing column${plural} ${missing.join(', ')} (header has: ${showHeader(names)})` };
  }
  return { configurationId, groupId, tenantId: found.get('tenantId') };
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

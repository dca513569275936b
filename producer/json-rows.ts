import type { CheckedText } from './checked-text.js';
import { JsonArrayScanner, type ScannedItem } from './json-array-scanner.js';
import { countLineBreaks } from './line-breaks.js';
import type { RolloutRowEvent } from './row-event.js';
import { rowValidator, type RowFields, type RowValidation } from './row-validation.js';

export interface JsonRowsOptions {
  /** Tenant for items without a `tenantId` (AZURE_TENANT_ID); unset means such items are problems. */
  defaultTenantId?: string;
  /** Largest accepted array item, in bytes; bounds memory per item. */
  maxItemBytes: number;
}

const FIELDS = ['configurationId', 'groupId', 'tenantId'] as const;

/**
 * Reads a JSON array of `{configurationId, groupId, tenantId?}` into rows and problems. Keys are
 * matched exactly (JSON is typed input; unlike a CSV header nobody retypes it by hand) and other keys
 * are ignored, as extra CSV columns are.
 */
export async function* jsonRows(
  text: AsyncIterable<CheckedText>,
  options: JsonRowsOptions,
): AsyncGenerator<RolloutRowEvent> {
  const scanner = new JsonArrayScanner(options.maxItemBytes);
  const validate = rowValidator(options.defaultTenantId);
  for await (const piece of text) {
    if ('fault' in piece) {
      yield { line: piece.fault.line, problem: piece.fault.problem };
      return;
    }
    for (const event of scanner.push(piece.bytes.toString('utf8'))) {
      if (event.kind === 'error') {
        yield { line: event.line, problem: event.problem };
        return;
      }
      yield* itemEvents(event, validate);
    }
  }
  const unclosed = scanner.end();
  if (unclosed !== undefined) {
    yield { line: unclosed.line, problem: unclosed.problem };
    return;
  }
  if (scanner.itemCount === 0) yield { line: scanner.arrayLine, problem: 'the array is empty (no rows)' };
}

function itemEvents(item: ScannedItem, validate: (fields: RowFields) => RowValidation): RolloutRowEvent[] {
  const label = `item ${item.index}`;
  let value: unknown;
  try {
    value = JSON.parse(item.text);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const { reason, position } = describeSyntaxError(err);
    const line = item.line + (position === undefined ? 0 : countLineBreaks(item.text, position));
    return [{ line, problem: `${label}: invalid JSON (${reason})` }];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ line: item.line, problem: `${label} is not an object` }];
  }

  const fields: RowFields = { configurationId: undefined, groupId: undefined, tenantId: undefined };
  for (const name of FIELDS) {
    const field: unknown = Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
    // null is how many JSON writers spell "absent"; for the optional tenant it means the default.
    if (field === undefined || (field === null && name === 'tenantId')) continue;
    fields[name] =
      typeof field === 'string' ? field : { problem: `${name} is not a string (got ${jsonTypeOf(field)})` };
  }
  const validation = validate(fields);
  if ('row' in validation) return [{ line: item.line, row: validation.row }];
  return validation.problems.map((reason) => ({ line: item.line, problem: `${label}: ${reason}` }));
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * V8's message without its "in JSON at position N (line L column C)" tail, which counts from the element, not the
 * file.
 */
function describeSyntaxError(err: SyntaxError): { reason: string; position: number | undefined } {
  const match = /\s+in JSON at position (\d+)(?:\s+\(line \d+ column \d+\))?\s*$/.exec(err.message);
  if (match === null) return { reason: err.message, position: undefined };
  return { reason: err.message.slice(0, match.index), position: Number(match[1]) };
}

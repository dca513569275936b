import { z } from 'zod';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { showValue } from './row-validation.js';

/**
 * Schema pieces shared by the YAML/JSON configuration files (desired state, event rules), whose
 * messages speak to someone who wrote YAML or JSON rather than JavaScript.
 */

/** What a value is: `the number 7`, `a list`, `a mapping`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return showValue(value);
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  // `!!binary` decodes to bytes, which would otherwise be called a mapping.
  if (ArrayBuffer.isView(value)) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/**
 * The message for a value of the wrong type. An absent key is reported as missing; the reader moves
 * such a problem to the mapping that lacks the key, so its line is one that exists.
 */
export function expected(what: string, key: string, note = ''): (issue: { input?: unknown }) => string {
  return (issue) =>
    issue.input === undefined ? `missing "${key}"${note}` : `expected ${what}, got ${describeValue(issue.input)}`;
}

/** A GUID under `key`, trimmed and normalized as rows' ids are. */
export function objectId(key: string): z.ZodType<string, unknown> {
  return z
    .string({ error: expected('a GUID', key) })
    .trim()
    .refine(isObjectId, { error: (issue) => `${showValue(String(issue.input))} is not a GUID` })
    .transform(normalizeObjectId);
}

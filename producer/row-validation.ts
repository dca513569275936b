import type { AssignmentRow } from '../lib/assignment-row.js';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';

/**
 * One id field of an input row as written: its text, `undefined` when the row has no such field, or a
 * problem the reader already found (a JSON number where a string belongs), which is reported as is.
 */
export type FieldInput = string | undefined | { problem: string };

export interface RowFields {
  configurationId: FieldInput;
  groupId: FieldInput;
  tenantId: FieldInput;
}

export type RowValidation = { row: AssignmentRow } | { problems: string[] };

/** Long values are cut so that one bad cell cannot turn a problem line into a screenful. */
const MAX_SHOWN_VALUE_CHARS = 60;

/** Quotes a value for a problem line; JSON escaping keeps control characters from reaching the terminal. */
export function showValue(value: string): string {
  const cut = value.length > MAX_SHOWN_VALUE_CHARS ? `${value.slice(0, MAX_SHOWN_VALUE_CHARS - 1)}…` : value;
  return JSON.stringify(cut);
}

type Checked = { value: string } | { problem: string };

/**
 * Builds the check shared by the CSV and JSON readers, so both formats accept and refuse exactly the
 * same rows with the same words. Values are trimmed, checked as object ids and lower-cased. A missing
 * or blank tenant means the default tenant, which is checked once here rather than once per row.
 */
export function rowValidator(defaultTenantId: string | undefined): (fields: RowFields) => RowValidation {
  const fallback = defaultTenantId?.trim() ?? '';
  const defaultTenant: Checked =
    fallback === ''
      ? { problem: 'no tenantId and AZURE_TENANT_ID is not set' }
      : isObjectId(fallback)
        ? { value: normalizeObjectId(fallback) }
        : { problem: `no tenantId and AZURE_TENANT_ID ${showValue(fallback)} is not an object id (GUID)` };

  return (fields) => {
    const configurationId = requiredId('configurationId', fields.configurationId);
    const groupId = requiredId('groupId', fields.groupId);
    const tenantId = tenant(fields.tenantId, defaultTenant);
    if ('value' in configurationId && 'value' in groupId && 'value' in tenantId) {
      return { row: { tenantId: tenantId.value, configurationId: configurationId.value, groupId: groupId.value } };
    }
    const problems: string[] = [];
    for (const field of [configurationId, groupId, tenantId]) if ('problem' in field) problems.push(field.problem);
    return { problems };
  };
}

function requiredId(name: string, written: FieldInput): Checked {
  if (written === undefined) return { problem: `missing ${name}` };
  if (typeof written !== 'string') return written;
  const value = written.trim();
  if (value === '') return { problem: `${name} is empty` };
  return objectId(name, value);
}

function tenant(written: FieldInput, defaultTenant: Checked): Checked {
  if (written !== undefined && typeof written !== 'string') return written;
  const value = written?.trim() ?? '';
  return value === '' ? defaultTenant : objectId('tenantId', value);
}

/** The problem shows the id as written (trimmed); the row gets it normalized. */
function objectId(name: string, value: string): Checked {
  if (isObjectId(value)) return { value: normalizeObjectId(value) };
  return { problem: `${name} ${showValue(value)} is not an object id (GUID)` };
}

import { z } from 'zod';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { showValue } from './row-validation.js';

export interface DesiredConfiguration {
  configurationId: string;
  /** Normalized, each once, in order of first appearance; empty means "no group assignments". */
  groups: string[];
}

export interface DesiredTenant {
  tenantId: string;
  configurations: DesiredConfiguration[];
}

export interface DesiredState {
  tenants: DesiredTenant[];
}

/** What a value is, in the words of someone who wrote YAML or JSON rather than JavaScript. */
function describeValue(value: unknown): string {
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
function expected(what: string, key: string, note = ''): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? `missing "${key}"${note}` : `expected ${what}, got ${describeValue(issue.input)}`);
}

function objectId(key: string): z.ZodType<string, unknown> {
  return z
    .string({ error: expected('a GUID', key) })
    .trim()
    .refine(isObjectId, { error: (issue) => `${showValue(String(issue.input))} is not a GUID` })
    .transform(normalizeObjectId);
}

const configuration = z.strictObject(
  {
    configurationId: objectId('configurationId'),
    groups: z
      .array(objectId('groups'), {
        // An empty list is a real instruction (remove every assignment), so it must be written out.
        error: expected('a list of group ids', 'groups', ' (write "groups: []" for a configuration that should have no group assignments)'),
      })
      // The same group twice asks for the same assignment twice: one is meant, not a mistake worth stopping for.
      .transform((groups) => [...new Set(groups)]),
  },
  { error: expected('a mapping with "configurationId" and "groups"', 'configuration') },
);

const tenant = z.strictObject(
  {
    tenantId: objectId('tenantId'),
    configurations: z.array(configuration, { error: expected('a list of configurations', 'configurations') }),
  },
  { error: expected('a mapping with "tenantId" and "configurations"', 'tenant') },
);

const root = z.strictObject(
  { tenants: z.array(tenant, { error: expected('a list of tenants', 'tenants') }) },
  { error: expected('a mapping with a "tenants" list', 'tenants') },
);

export const desiredStateSchema: z.ZodType<DesiredState, unknown> = root;

/**
 * The keys a mapping may have, by the list it sits in ('' for the top level), so that a misspelt key
 * can be answered with the one probably meant.
 */
export const KEYS_BY_LIST: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(root.shape),
  tenants: Object.keys(tenant.shape),
  configurations: Object.keys(configuration.shape),
};

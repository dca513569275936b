import { z } from 'zod';
import type { DesiredState } from '../lib/queues/sync-queue.js';
import { expected, objectId } from './config-file-values.js';

const configuration = z.strictObject(
  {
    configurationId: objectId('configurationId'),
    groups: z
      .array(objectId('groups'), {
        // An empty list is a real instruction (remove every assignment), so it must be written out.
        error: expected(
          'a list of group ids',
          'groups',
          ' (write "groups: []" for a configuration that should have no group assignments)',
        ),
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

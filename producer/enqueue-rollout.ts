import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RolloutInput } from './rollout-file.js';
import { rowKey } from '../lib/assignment-row.js';
import { JOB_OPTIONS, jobIdOf, type AssignmentJobData } from '../lib/queue.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';

export interface EnqueueResult {
  rolloutId: string;
  name: string | null;
  source: string;
  total: number;
  inputRows: number;
  duplicateRows: number;
  tenants: string[];
  configurations: number;
  createdAt: string;
}

/** addBulk is a pipeline, not a transaction; a thousand jobs a call keeps each step small. */
const CHUNK = 1000;

/**
 * Turns a validated input into a rollout: the rollout record and its rows first (so `total` is
 * known before any outcome arrives), then one job per row. Job ids are `<rolloutId>-<row>`, so a
 * repeated chunk adds nothing twice.
 */
export async function enqueueRollout(
  input: RolloutInput,
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore },
  options: { name?: string; source: string },
): Promise<EnqueueResult> {
  const rolloutId = randomUUID();
  const createdAt = new Date().toISOString();
  const tenants = [...new Set(input.rows.map((r) => r.tenantId))];
  const configurations = new Set(input.rows.map((r) => `${r.tenantId}/${r.configurationId}`)).size;
  await deps.store.create(
    {
      rolloutId,
      name: options.name,
      source: options.source,
      createdAt,
      total: input.rows.length,
      inputRows: input.inputRows,
      duplicateRows: input.duplicateRows,
      tenants,
    },
    input.rows.map(rowKey),
  );
  for (let start = 0; start < input.rows.length; start += CHUNK) {
    const chunk = input.rows.slice(start, start + CHUNK).map((row, i) => ({
      name: 'assign',
      data: { rolloutId, row: start + i, tenantId: row.tenantId, configurationId: row.configurationId, groupId: row.groupId },
      opts: { ...JOB_OPTIONS, jobId: jobIdOf(rolloutId, start + i) },
    }));
    await deps.queue.addBulk(chunk);
  }
  return {
    rolloutId,
    name: options.name ?? null,
    source: options.source,
    total: input.rows.length,
    inputRows: input.inputRows,
    duplicateRows: input.duplicateRows,
    tenants,
    configurations,
    createdAt,
  };
}

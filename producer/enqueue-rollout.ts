import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RolloutInput } from './rollout-file.js';
import type { ScannedRollout } from './rollout-scan.js';
import { appendRolloutRows } from './rollout-row-list.js';
import { rowJobs } from './row-jobs.js';
import { rowKey, type AssignmentRow } from '../lib/assignment-row.js';
import type { AssignmentJobData } from '../lib/queue.js';
import type { RolloutMeta, RolloutStore } from '../lib/rollout/rollout-store.js';

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
 * Turns a validated input held in memory into a rollout: the rollout record and all its rows first
 * (so `total` is known before any outcome arrives), then one job per row. Job ids are
 * `<rolloutId>-<row>`, so a repeated chunk adds nothing twice.
 */
export async function enqueueRollout(
  input: RolloutInput,
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore },
  options: { name?: string; source: string },
): Promise<EnqueueResult> {
  const tenants = [...new Set(input.rows.map((r) => r.tenantId))];
  const configurations = new Set(input.rows.map((r) => `${r.tenantId}/${r.configurationId}`)).size;
  const result = newResult({ total: input.rows.length, inputRows: input.inputRows, duplicateRows: input.duplicateRows, tenants, configurations }, options);
  await deps.store.create(metaOf(result), input.rows.map(rowKey));
  for (let start = 0; start < input.rows.length; start += CHUNK) {
    await deps.queue.addBulk(rowJobs(result.rolloutId, start, input.rows.slice(start, start + CHUNK)));
  }
  return result;
}

/**
 * Enqueues a scanned input (see scanRolloutFile) a chunk at a time, so memory holds the packed rows
 * and one chunk of jobs, never every job or every row key at once. The rollout record, with its
 * `total`, is written before the first job, as `status` and the workers' "finished" check rely on;
 * each chunk's row keys are appended to the row list before that chunk's jobs are added, so a row
 * with a job is always in the list (the report's order) and a worker never sees a row the list lacks.
 *
 * `redis` must be the connection the queue uses or one as fresh: the list is written with it.
 */
export async function enqueueScannedRollout(
  scan: ScannedRollout,
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore; redis: Redis; retentionMs: number },
  options: { name?: string; source: string },
): Promise<EnqueueResult> {
  const result = newResult({ total: scan.rows.size, inputRows: scan.inputRows, duplicateRows: scan.duplicateRows, tenants: scan.tenants, configurations: scan.configurations }, options);
  await deps.store.create(metaOf(result), []);
  let chunk: AssignmentRow[] = [];
  let start = 0;
  const flush = async (): Promise<void> => {
    await appendRolloutRows(deps.redis, deps.store.keys, result.rolloutId, chunk.map(rowKey), deps.retentionMs);
    await deps.queue.addBulk(rowJobs(result.rolloutId, start, chunk));
    start += chunk.length;
    chunk = [];
  };
  for (const row of scan.rows) {
    chunk.push(row);
    if (chunk.length === CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();
  return result;
}

function newResult(
  counts: Pick<EnqueueResult, 'total' | 'inputRows' | 'duplicateRows' | 'tenants' | 'configurations'>,
  options: { name?: string; source: string },
): EnqueueResult {
  // Field order is the `--json` output's order.
  return {
    rolloutId: randomUUID(),
    name: options.name ?? null,
    source: options.source,
    total: counts.total,
    inputRows: counts.inputRows,
    duplicateRows: counts.duplicateRows,
    tenants: counts.tenants,
    configurations: counts.configurations,
    createdAt: new Date().toISOString(),
  };
}

function metaOf(result: EnqueueResult): RolloutMeta {
  return {
    rolloutId: result.rolloutId,
    name: result.name ?? undefined,
    source: result.source,
    createdAt: result.createdAt,
    total: result.total,
    inputRows: result.inputRows,
    duplicateRows: result.duplicateRows,
    tenants: result.tenants,
  };
}

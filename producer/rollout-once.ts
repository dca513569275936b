import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { parseRowKey } from '../lib/assignment-row.js';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';
import { enqueueRollout, type EnqueueResult } from './enqueue-rollout.js';
import { rowJobs } from './row-jobs.js';

/**
 * A UUID-shaped rollout id derived from the id of the job that makes the rollout (a scheduled sync
 * run, an event), so a re-run of that job (its worker died) finds the rollout it made instead of
 * making a second one. BullMQ's job ids may contain ':', which rollout ids must not.
 */
export function rolloutIdFor(kind: string, jobId: string): string {
  const h = createHash('sha256').update(`${kind}:${jobId}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/**
 * Enqueues `rows` as rollout `rolloutId`, once: when the rollout exists already (an earlier run of
 * the same job got that far), the jobs of its rows without an outcome are added again instead
 * (adding a job that exists adds nothing). Returns the rollout and whether it was resumed.
 */
export async function enqueueRolloutOnce(
  rolloutId: string,
  rows: AssignmentRow[],
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore },
  meta: { name?: string; source: string },
): Promise<{ rollout: EnqueueResult | null; resumed: number | null }> {
  if (await deps.store.status(rolloutId)) return { rollout: null, resumed: await requeueUnfinished(rolloutId, deps) };
  const rollout = await enqueueRollout(
    { rows, lines: rows.map(() => 0), inputRows: rows.length, duplicateRows: 0, format: 'json' },
    deps,
    { ...meta, rolloutId },
  );
  return { rollout, resumed: null };
}

/** Jobs for the rows of the rollout that have no outcome yet; returns how many were added. */
async function requeueUnfinished(
  rolloutId: string,
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore },
): Promise<number> {
  let added = 0;
  let chunk: ReturnType<typeof rowJobs> = [];
  for await (const { rowKey, row, outcome } of deps.store.outcomes(rolloutId)) {
    if (outcome) continue;
    chunk.push(...rowJobs(rolloutId, row - 1, [parseRowKey(rowKey)]));
    if (chunk.length >= 1000) {
      await deps.queue.addBulk(chunk);
      added += chunk.length;
      chunk = [];
    }
  }
  if (chunk.length) await deps.queue.addBulk(chunk);
  return added + chunk.length;
}

import type { Queue } from 'bullmq';
import { JOB_OPTIONS, jobDataOf, jobIdOf, jobNameOf, type AssignmentJobData } from '../queues/assignment-queue.js';
import type { OutcomeKind } from '../outcome.js';
import { parseRowKey } from '../assignment-row.js';
import type { RolloutStore } from './rollout-store.js';
import { UserError } from '../errors/user-error.js';
import { ErrorCodes } from '../errors/codes.js';

export interface RetryResult {
  rolloutId: string;
  outcome: OutcomeKind;
  /** Rows re-enqueued. */
  retried: number;
  /** This retry's number (1 for the first retry of the rollout). */
  retryNumber: number;
}

/**
 * Re-enqueues the rows that ended with `kind` (failed by default) as new jobs, with a fresh attempt
 * budget. Their outcomes move to the row's history and are replaced when the new jobs end; the
 * taking is atomic per chunk, so concurrent retries never enqueue a row twice.
 */
export async function retryRollout(
  rolloutId: string,
  kind: OutcomeKind,
  deps: { store: RolloutStore; queue: Queue<AssignmentJobData> },
): Promise<RetryResult> {
  const { store, queue } = deps;
  const status = await store.status(rolloutId);
  if (!status) throw new UserError(ErrorCodes.ROLLOUT_NOT_FOUND, `no rollout ${JSON.stringify(rolloutId)}`);
  if (status.state === 'cancelled' && kind !== 'cancelled') {
    throw new UserError(
      ErrorCodes.ROLLOUT_STATE,
      `rollout ${rolloutId} is cancelled: nothing to retry (use --outcome cancelled to resume its cancelled rows)`,
    );
  }
  const { retryNumber, rows } = await store.takeForRetry(rolloutId, kind);
  if (rows.length === 0) {
    throw new UserError(ErrorCodes.ROLLOUT_STATE, `rollout ${rolloutId} has no ${kind} rows: nothing to retry`);
  }
  for (let start = 0; start < rows.length; start += 1000) {
    await queue.addBulk(
      rows.slice(start, start + 1000).map(([row, rowKey]) => {
        // A delete row's key carries its assignmentId, so its new job is a delete job again.
        const r = parseRowKey(rowKey);
        return {
          name: jobNameOf(r),
          data: jobDataOf(rolloutId, row, r),
          opts: { ...JOB_OPTIONS, jobId: `${jobIdOf(rolloutId, row)}-r${retryNumber}` },
        };
      }),
    );
  }
  return { rolloutId, outcome: kind, retried: rows.length, retryNumber };
}

import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobIdOf, type AssignmentJobData } from '../queues/assignment-queue.js';
import { NO_RESULT, rowFieldsOf, type Outcome } from '../outcome.js';
import { parseRowKey } from '../assignment-row.js';
import type { RolloutStore } from './rollout-store.js';
import { UserError } from '../errors/user-error.js';
import { ErrorCodes } from '../errors/codes.js';

export interface CancelResult {
  rolloutId: string;
  /** Rows taken off the queue and recorded as `cancelled`. */
  cancelled: number;
  /** Rows a worker holds right now: they finish (or end as `cancelled` before their next request). */
  inFlight: number;
  /** Job ids taken off the queue, by tenant: their lane slots can be given back. */
  removedJobs: Record<string, string[]>;
}

/**
 * Stops a running rollout: rows still queued (waiting, or parked for their lane) are removed and
 * end as `cancelled`; rows a worker holds finish what they started, so nothing is half-done.
 * Workers also see the mark and send no new request for the rollout.
 */
export async function cancelRollout(
  rolloutId: string,
  deps: { redis: Redis; store: RolloutStore; queue: Queue<AssignmentJobData> },
): Promise<CancelResult> {
  const { redis, store, queue } = deps;
  const status = await store.status(rolloutId);
  if (!status) throw new UserError(ErrorCodes.ROLLOUT_NOT_FOUND, `no rollout ${JSON.stringify(rolloutId)}`);
  if (status.state !== 'running') {
    const when = status.state === 'cancelled' ? status.cancelledAt : status.finishedAt;
    throw new UserError(
      ErrorCodes.ROLLOUT_STATE,
      `rollout ${rolloutId} is already ${status.state}${when ? ` (${when})` : ''}: nothing to cancel`,
    );
  }
  await store.markCancelled(rolloutId, new Date().toISOString());

  const k = store.keys;
  let cancelled = 0;
  let inFlight = 0;
  const removedJobs: Record<string, string[]> = {};
  const chunk = 500;
  for (let start = 0; ; start += chunk) {
    const rowKeys = await redis.lrange(k.rolloutRows(rolloutId), start, start + chunk - 1);
    if (rowKeys.length === 0) break;
    const [outcomes, attempts, markers] = await Promise.all([
      redis.hmget(k.rolloutOutcomes(rolloutId), ...rowKeys),
      redis.hmget(k.rolloutAttempts(rolloutId), ...rowKeys),
      redis.mget(...rowKeys.map((key) => k.rowMarker(key))),
    ]);
    await Promise.all(
      rowKeys.map(async (rowKey, i) => {
        if (outcomes[i]) return;
        // A POST (or DELETE) of this rollout may have landed for this row: its worker looks before it
        // records anything, so the row ends with what is true rather than `cancelled` over an
        // assignment it created (or removed).
        const marker = markers[i] ?? '';
        if (marker.startsWith(`sent|${rolloutId}|`) || marker.startsWith(`ended|${rolloutId}|`)) {
          inFlight++;
          return;
        }
        const row = start + i;
        // A row's job is `<rollout>-<row>`, or `<rollout>-<row>-r<n>` after the n-th retry.
        const ids = [
          jobIdOf(rolloutId, row),
          ...Array.from({ length: status.retries }, (_, n) => `${jobIdOf(rolloutId, row)}-r${n + 1}`),
        ];
        const results = await Promise.all(ids.map((id) => queue.remove(id)));
        if (!results.some((n) => n === 1)) {
          inFlight++;
          return;
        }
        const parsed = parseRowKey(rowKey);
        (removedJobs[parsed.tenantId] ??= []).push(...ids.filter((_, j) => results[j] === 1));
        const { assignmentId, ...rowIds } = rowFieldsOf(parsed);
        const outcome: Outcome = {
          rolloutId,
          row: row + 1,
          ...rowIds,
          outcome: 'cancelled',
          ...NO_RESULT,
          assignmentId,
          attempts: Number(attempts[i] ?? 0) || 0,
          finishedAt: new Date().toISOString(),
        };
        // A worker that recorded the row meanwhile wins (the store keeps the first outcome).
        if (await store.record(outcome, rowKey, { action: 'keep' })) cancelled++;
      }),
    );
    if (rowKeys.length < chunk) break;
  }
  return { rolloutId, cancelled, inFlight, removedJobs };
}

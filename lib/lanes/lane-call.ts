import type { CallInfo, CallOptions } from '../graph/assignments-api.js';
import { GraphFailure, gaveUp } from '../graph/graph-failure.js';
import { retryWith } from '../retry/retry-with.js';
import type { LaneBoundGraph, CallerContext } from './lane-bound-graph.js';
import { LaneWait } from './lane-gate.js';
import { backoffDelayMs } from './backoff.js';

export interface LaneCallOptions {
  /** Tries, the first included (RETRY_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First backoff step in milliseconds, doubled per attempt (RETRY_BASE_DELAY_MS). */
  baseDelayMs: number;
  /** Aborted at shutdown: a call waiting for its lane or a backoff stops at once. */
  signal?: AbortSignal;
}

/**
 * One Graph request through the tenant's lane, for callers that are not row jobs (a sync's reads,
 * an event's group read): they cannot park in BullMQ's delayed set, so they wait for their slot in
 * place. A 429 waits for the lane to reopen (LaneBoundGraph has paused it for everyone); 5xx,
 * timeouts and network errors back off; the 401 retry with a fresh token is LaneBoundGraph's.
 * Anything else, or the last attempt's failure, is thrown as a GraphFailure.
 */
export async function callThroughLane<T extends CallInfo>(
  graph: LaneBoundGraph,
  ctx: CallerContext,
  run: (options: CallOptions) => Promise<T>,
  options: LaneCallOptions,
): Promise<T> {
  return retryWith(
    async () => (await graph.call(ctx, run, undefined, { maxInlineWaitMs: Number.POSITIVE_INFINITY })).value,
    {
      maxAttempts: options.maxAttempts,
      signal: options.signal,
      nextDelayMs: ({ error, attempt, attemptsLeft }) => {
        const failure = error instanceof LaneWait ? ((error as { failure?: unknown }).failure ?? error) : error;
        if (!(failure instanceof GraphFailure)) {
          // A plain LaneWait: shutting down while waiting for the slot.
          throw options.signal?.aborted ? new Error('interrupted: the worker is shutting down') : error;
        }
        if (failure.kind === 'permanent' || failure.kind === 'unauthorized') throw failure;
        if (attemptsLeft === 0) throw gaveUp(failure, attempt);
        const waitMs =
          error instanceof LaneWait
            ? error.untilMs - Date.now()
            : Math.max(backoffDelayMs(attempt, options.baseDelayMs), failure.retryAfterMs ?? 0);
        return Math.max(0, waitMs);
      },
    },
  );
}

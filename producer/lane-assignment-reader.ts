import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Assignment } from '../lib/graph/assignments-api.js';
import { GraphFailure } from '../lib/graph/graph-failure.js';
import type { LaneBoundGraph, CallerContext } from '../worker/lane-bound-graph.js';
import { LaneWait } from '../worker/lane-gate.js';
import { backoffDelayMs } from '../worker/retry-policy.js';
import type { AssignmentLister } from './dry-run-plan.js';
import { gaveUp } from './assignment-reader.js';

export interface LaneAssignmentReaderOptions {
  /** Tries per page request, the first included (RETRY_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First backoff step in milliseconds, doubled per attempt (RETRY_BASE_DELAY_MS). */
  baseDelayMs: number;
  /** Aborted at shutdown: a read waiting for its lane or a backoff stops at once. */
  signal?: AbortSignal;
}

/**
 * Whole listings of a configuration's assignments for a sync, each page through the tenant's lane,
 * the same Redis lane the workers' POSTs and DELETEs pass: a sync's reads take slots in turn with a
 * running rollout of the tenant instead of adding a second stream of requests Graph would throttle.
 *
 * Unlike a row, a sync is not a job that can park itself in BullMQ's delayed set, so it waits for its
 * slot in place. A page that fails in a way worth retrying is retried in place (a retry of page 7
 * does not start over from page 1): a 429 waits for the lane to reopen (LaneBoundGraph has paused
 * the lane for everyone), 5xx, timeouts and network errors back off; the 401 retry with a fresh
 * token is LaneBoundGraph's. Anything else, or the last attempt's failure, is thrown as a
 * GraphFailure.
 */
export class LaneAssignmentReader implements AssignmentLister {
  constructor(
    private readonly graph: LaneBoundGraph,
    private readonly options: LaneAssignmentReaderOptions,
  ) {}

  async listAll(tenantId: string, configurationId: string): Promise<Assignment[]> {
    const ctx: CallerContext = { tenantId, owner: `sync-read-${randomUUID()}`, clientRequestId: randomUUID() };
    const all: Assignment[] = [];
    let next: string | undefined;
    do {
      const page = await this.page(ctx, configurationId, next);
      all.push(...page.assignments);
      next = page.nextLink;
    } while (next);
    return all;
  }

  private async page(ctx: CallerContext, configurationId: string, nextLink: string | undefined): Promise<{ assignments: Assignment[]; nextLink?: string }> {
    const { graph } = this;
    const { signal } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        const { value } = await graph.call(ctx, (o) => graph.api.listPage(ctx.tenantId, configurationId, nextLink, o), undefined, Number.POSITIVE_INFINITY);
        return value;
      } catch (err) {
        const failure = err instanceof LaneWait ? ((err as { failure?: unknown }).failure ?? err) : err;
        if (!(failure instanceof GraphFailure)) {
          // A plain LaneWait: shutting down while waiting for the slot.
          throw signal?.aborted ? new Error('interrupted: the worker is shutting down') : err;
        }
        if (failure.kind === 'permanent' || failure.kind === 'unauthorized') throw failure;
        if (attempt >= this.options.maxAttempts) throw gaveUp(failure, attempt);
        const waitMs =
          err instanceof LaneWait ? err.untilMs - Date.now() : Math.max(backoffDelayMs(attempt, this.options.baseDelayMs), failure.retryAfterMs ?? 0);
        await sleep(Math.max(0, waitMs), undefined, { signal });
      }
    }
  }
}

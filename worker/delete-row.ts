import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import type { AssignmentJobData, GaveUp } from '../lib/queues/assignment-queue.js';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import type { Outcome, OutcomeKind } from '../lib/outcome.js';
import type { MarkerUpdate } from '../lib/rollout/rollout-store.js';
import { GraphFailure } from '../lib/graph/graph-failure.js';
import { LaneWait } from '../lib/lanes/lane-gate.js';
import { ThrottledWait, type CallerContext, type LaneBoundGraph } from '../lib/lanes/lane-bound-graph.js';
import {
  clearRowMarkerIfUnchanged,
  lookNotBefore,
  markRowPostEnded,
  parseRowMarker,
  type RowMarker,
} from './row-marker.js';

/** What a delete row needs of the processor's job context. */
export interface DeleteRowContext extends CallerContext {
  job: Job<AssignmentJobData>;
  rowKey: string;
  log: Logger;
  /** DELETEs sent for this row so far (its outcome's `attempts`). */
  attempts: number;
  /**
   * Set when a DELETE of this rollout for this row may have landed (a `sent` or `ended` mark of
   * ours): running out of attempts then ends with one last look instead of `failed` at once.
   */
  earlierWriteMayHaveLanded?: boolean;
}

export interface DeleteRowDeps {
  redis: Redis;
  keys: RedisKeys;
  graph: LaneBoundGraph;
  /** GRAPH_TIMEOUT_MS: a DELETE still on its way may commit until then. */
  requestTimeoutMs: number;
  /** GRAPH_SETTLE_MS: how long after an ambiguous end a look is trusted. */
  settleMs: number;
  retentionMs: number;
}

export type RecordOutcome = (
  ctx: DeleteRowContext,
  kind: OutcomeKind,
  fields: Partial<Outcome>,
  marker: MarkerUpdate,
) => Promise<void>;

/** Every outcome of a delete row forgets the row's own `sent`/`ended` mark (it has served its purpose). */
const DROP_OWN: MarkerUpdate = { action: 'drop-own' };

/**
 * Takes a delete row ("prune" row) to one outcome: `DELETE …/assignments/{assignmentId}` through the
 * tenant's lane, with the row's `sent` mark written atomically with the grant.
 *
 * - An outcome already recorded (a re-run) ends the job.
 * - Cancelled, with no DELETE of ours that may have landed: `cancelled`, no request.
 * - Out of attempts after a DELETE that may have landed (`gaveUp`), or cancelled after one: one look
 *   (GET of the assignment) once such a DELETE would have landed: gone means `deleted`, there means
 *   `failed` (with the reason it gave up) or `cancelled`. Never `failed` over an assignment that is
 *   gone because of us.
 * - Otherwise DELETE: 200/204 is `deleted`; 404 is `deleted` if a DELETE of ours for this row may
 *   have landed earlier, `already-deleted` if not. Throttling and transient failures go back to the
 *   processor's retry policy (a DELETE is idempotent, so it is simply sent again), permanent ones
 *   (400, 403) end `failed`.
 *
 * Unlike a POST, a DELETE needs no look before it is sent again: a second DELETE cannot duplicate
 * anything, it only answers 404. The marker decides between `deleted` and `already-deleted`.
 */
export class DeleteRow {
  constructor(
    private readonly deps: DeleteRowDeps,
    private readonly record: RecordOutcome,
  ) {}

  async run(ctx: DeleteRowContext): Promise<void> {
    const { redis, keys } = this.deps;
    const d = ctx.job.data;
    const [[, done], [, markerValue], [, attempts], [, cancelledAt]] = (await redis
      .pipeline()
      .hexists(keys.rolloutOutcomes(d.rolloutId), ctx.rowKey)
      .get(keys.rowMarker(ctx.rowKey))
      .hget(keys.rolloutAttempts(d.rolloutId), ctx.rowKey)
      .hget(keys.rollout(d.rolloutId), 'cancelledAt')
      .exec()) as [[null, number], [null, string | null], [null, string | null], [null, string | null]];
    if (done === 1) return;
    ctx.attempts = Number(attempts ?? 0) || 0;
    const marker = parseRowMarker(markerValue);
    const ours = (marker?.kind === 'sent' || marker?.kind === 'ended') && marker.rolloutId === d.rolloutId;
    ctx.earlierWriteMayHaveLanded = ours;

    // gaveUp is only set after a DELETE of ours may have landed: look, never send again.
    if (d.gaveUp) return this.look(ctx, marker, { kind: 'failed', fields: d.gaveUp });
    if (cancelledAt !== null) {
      if (!ours) return this.record(ctx, 'cancelled', {}, { action: 'keep' });
      return this.look(ctx, marker, { kind: 'cancelled', fields: {} });
    }
    await this.send(ctx, ours);
  }

  /**
   * One GET of the assignment, once a DELETE that may still be on its way (or committing late)
   * would have landed: gone is `deleted`, still there is `otherwise`.
   */
  private async look(
    ctx: DeleteRowContext,
    marker: RowMarker,
    otherwise: { kind: 'failed'; fields: GaveUp } | { kind: 'cancelled'; fields: Record<string, never> },
  ): Promise<void> {
    const { graph } = this.deps;
    const d = ctx.job.data;
    if (marker?.kind === 'sent' || marker?.kind === 'ended') {
      const lookAt = lookNotBefore(marker, this.deps.requestTimeoutMs, this.deps.settleMs);
      if (Date.now() < lookAt) throw new LaneWait(lookAt);
    }
    const { value } = await graph.call(ctx, (o) => graph.api.get(d.tenantId, d.configurationId, d.assignmentId!, o));
    if (!value.assignment) {
      ctx.log.info({ assignmentId: d.assignmentId }, 'an earlier DELETE had landed; not deleting again');
      await this.record(ctx, 'deleted', { httpStatus: value.httpStatus, requestId: value.requestId ?? null }, DROP_OWN);
      return;
    }
    await this.record(ctx, otherwise.kind, otherwise.fields, DROP_OWN);
  }

  private async send(ctx: DeleteRowContext, ours: boolean): Promise<void> {
    const { graph, keys, redis, retentionMs } = this.deps;
    const d = ctx.job.data;
    // The lane writes `sent|<rolloutId>|<grant time>` with the grant, before the request leaves.
    const sentMark = { key: keys.rowMarker(ctx.rowKey), value: `sent|${d.rolloutId}|`, ttlMs: retentionMs };
    try {
      const { value, count } = await graph.call(
        ctx,
        (o) => graph.api.delete(d.tenantId, d.configurationId, d.assignmentId!, o),
        sentMark,
      );
      ctx.attempts = count;
      await this.record(ctx, 'deleted', { httpStatus: value.httpStatus, requestId: value.requestId ?? null }, DROP_OWN);
    } catch (err) {
      if (ctx.lastCount !== undefined) ctx.attempts = ctx.lastCount;
      if (err instanceof GraphFailure && err.httpStatus === 404) {
        // Gone. Ours, if an earlier DELETE of this row may have landed; otherwise it was gone before us.
        if (ours) ctx.log.info({ assignmentId: d.assignmentId }, 'an earlier DELETE had landed');
        await this.record(
          ctx,
          ours ? 'deleted' : 'already-deleted',
          { httpStatus: 404, requestId: err.requestId ?? null },
          DROP_OWN,
        );
        return;
      }
      const failure = err instanceof ThrottledWait ? err.failure : err;
      if (failure instanceof GraphFailure && ctx.lastSentAt !== undefined) {
        const sent = `${sentMark.value}${ctx.lastSentAt}`;
        if (failure.ambiguous) {
          // It may have been committed: the next try's 404 is ours, and running out of attempts looks first.
          await markRowPostEnded(redis, sentMark.key, sent, d.rolloutId, Date.now());
          ctx.earlierWriteMayHaveLanded = true;
        } else if (!ours) {
          // A definite refusal, and no earlier DELETE of ours: nothing of ours can land, forget the mark.
          await clearRowMarkerIfUnchanged(redis, sentMark.key, sent);
        }
      }
      throw err;
    }
  }
}

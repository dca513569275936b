import { randomUUID } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import type { AssignmentJobData, GaveUp } from '../lib/queues/assignment-queue.js';
import { isDeleteRow, rowKey as rowKeyOf } from '../lib/assignment-row.js';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import { NO_RESULT, type Outcome, type OutcomeKind, type RowAction } from '../lib/outcome.js';
import type { RolloutStore, MarkerUpdate } from '../lib/rollout/rollout-store.js';
import { GraphFailure, refusedAtDoor } from '../lib/graph/graph-failure.js';
import { isAssignmentOf } from '../lib/graph/assignment-kind.js';
import { LaneWait } from '../lib/lanes/lane-gate.js';
import { ThrottledWait, type LaneBoundGraph, type CallerContext } from '../lib/lanes/lane-bound-graph.js';
import { ConfigurationListings, type ListingFailure } from './configuration-listing.js';
import { readRowState } from './row-state.js';
import { decideRetry, RetryLater, type RetryPolicy } from './retry-policy.js';
import { clearRowMarkerIfUnchanged, lookNotBefore, markRowPostEnded, parseRowMarker } from './row-marker.js';
import { DeleteRow, type DeleteRowContext } from './delete-row.js';
import type { WorkerMetrics } from '../lib/metrics/worker-metrics.js';

export interface ProcessorDeps {
  redis: Redis;
  keys: RedisKeys;
  store: RolloutStore;
  graph: LaneBoundGraph;
  policy: RetryPolicy;
  /** GRAPH_TIMEOUT_MS: a POST still on its way may commit until then. */
  requestTimeoutMs: number;
  retentionMs: number;
  logger: Logger;
  /** Where recorded outcomes are counted; absent in tests that do not look at metrics. */
  metrics?: WorkerMetrics;
}

interface RowContext extends CallerContext, DeleteRowContext {
  job: Job<AssignmentJobData>;
  rowKey: string;
  log: Logger;
  attempts: number;
  action: RowAction;
}

/**
 * The job processor: takes one row to exactly one outcome.
 *
 * Order of checks, cheapest first: an outcome already recorded (a re-run) ends the job; the
 * configuration's listing says whether the group was assigned before the rollout; a marker left by
 * an earlier POST for the same triple (this rollout's earlier attempt, a killed worker, or another
 * rollout) means look before posting again, after the settle delay; otherwise POST, with the `sent`
 * marker written atomically with the lane's grant.
 *
 * A delete row (one with an `assignmentId`) takes its own, shorter path: see DeleteRow.
 */
export class AssignmentProcessor {
  private readonly deleteRow: DeleteRow;
  /** One per process: the rows that need the same listing read wait for one another here. */
  private readonly listings: ConfigurationListings;

  constructor(private readonly deps: ProcessorDeps) {
    this.listings = new ConfigurationListings(deps.redis, deps.keys, deps.graph);
    this.deleteRow = new DeleteRow(
      {
        redis: deps.redis,
        keys: deps.keys,
        graph: deps.graph,
        requestTimeoutMs: deps.requestTimeoutMs,
        settleMs: deps.policy.settleMs,
        retentionMs: deps.retentionMs,
      },
      (ctx, kind, fields, marker) => this.record(ctx as RowContext, kind, fields, marker),
    );
  }

  async process(job: Job<AssignmentJobData>, token?: string): Promise<void> {
    const d = job.data;
    const clientRequestId = randomUUID();
    const rowKey = rowKeyOf(d);
    const logger = this.deps.logger;
    const action: RowAction = isDeleteRow(d) ? 'delete' : 'create';
    const ctx: RowContext = {
      job,
      rowKey,
      action,
      tenantId: d.tenantId,
      owner: job.id ?? rowKey,
      clientRequestId,
      attempts: 0,
      countIn: { key: this.deps.keys.rolloutAttempts(d.rolloutId), field: rowKey, ttlMs: this.deps.retentionMs },
      // The job's child logger, made on first use: most rows end without a line above debug, and
      // building the bindings for each of them was a measurable share of the worker's CPU.
      get log(): Logger {
        const child = logger.child({
          rolloutId: d.rolloutId,
          tenantId: d.tenantId,
          configurationId: d.configurationId,
          groupId: d.groupId,
          ...(action === 'delete' ? { action, assignmentId: d.assignmentId } : {}),
          clientRequestId,
          jobId: job.id,
        });
        Object.defineProperty(this, 'log', { value: child });
        return child;
      },
    };
    try {
      await (action === 'delete' ? this.deleteRow.run(ctx) : this.run(ctx));
    } catch (err) {
      if (err instanceof LaneWait) {
        ctx.log.debug(
          { until: new Date(err.untilMs).toISOString(), throttled: err instanceof ThrottledWait },
          'waiting for the tenant lane',
        );
        await job.moveToDelayed(Math.max(err.untilMs, Date.now() + 1), token);
        throw new DelayedError();
      }
      if (err instanceof GraphFailure) {
        await this.failed(ctx, err);
        return;
      }
      throw err;
    }
  }

  private async run(ctx: RowContext): Promise<void> {
    const { redis, keys } = this.deps;
    const d = ctx.job.data;
    const listings = this.listings;
    const state = await readRowState(redis, keys, d, ctx.rowKey);
    if (!state) return;
    const { listing, createdAt, retriedAt } = state;
    // Cancelled: no new request for this row. A POST of ours that may have landed is still looked
    // for below, so the row ends with what is true, not with `cancelled` over a created assignment.
    const cancelled = state.cancelledAt != null;
    ctx.attempts = state.attempts;

    // A POST for this triple that may have landed (this row's earlier attempt, a worker that died,
    // another rollout): look before posting again, once a slow commit would have landed.
    const marker = parseRowMarker(state.marker);
    if (marker?.kind === 'sent' || marker?.kind === 'ended') {
      const lookAt = lookNotBefore(marker, this.deps.requestTimeoutMs, this.deps.policy.settleMs);
      if (Date.now() < lookAt) throw new LaneWait(lookAt);
      const after = await listings.read(d.configurationId, d.groupId, lookAt, ctx);
      if (after.state === 'fresh' && after.assignmentId) {
        const kind: OutcomeKind = marker.rolloutId === d.rolloutId ? 'created' : 'already-assigned';
        ctx.log.info({ assignmentId: after.assignmentId }, 'an earlier POST had landed; not posting again');
        await this.record(
          ctx,
          kind,
          { assignmentId: after.assignmentId },
          { action: 'assigned', assignmentId: after.assignmentId },
        );
        return;
      }
      if (after.state === 'missing') return this.configurationMissing(ctx, after.failure);
      if (d.gaveUp) {
        await this.record(ctx, 'failed', d.gaveUp, { action: 'keep' });
        return;
      }
      await clearRowMarkerIfUnchanged(redis, keys.rowMarker(ctx.rowKey), marker.raw);
    } else if (marker?.kind === 'assigned') {
      const { value } = await this.deps.graph.call(ctx, (o) =>
        this.deps.graph.api.get(d.tenantId, d.configurationId, marker.assignmentId, o),
      );
      const found = value.assignment;
      // A body that names no group cannot say the assignment is another group's: the marker's id stands.
      if (found && (!found.groupId || isAssignmentOf(this.deps.graph.api.kind, found, d.groupId))) {
        await this.record(
          ctx,
          'already-assigned',
          { assignmentId: marker.assignmentId, httpStatus: value.httpStatus, requestId: value.requestId ?? null },
          { action: 'keep' },
        );
        return;
      }
      await clearRowMarkerIfUnchanged(redis, keys.rowMarker(ctx.rowKey), marker.raw);
    } else {
      if (cancelled) return this.cancelled(ctx);
      // No POST of ours is known: what did the configuration hold when this rollout began (or was
      // last retried)? One read per configuration, shared by its rows: a listing that started after
      // that moment answers for every row, including rows enqueued after the read began (a large
      // rollout is enqueued in chunks while the first rows already run). A group found there was
      // assigned before us.
      const since = rolloutStartedAt(createdAt, retriedAt, ctx.job.timestamp);
      let view = ConfigurationListings.view(listing.status, listing.startedAt, listing.assignmentId, since);
      if (view.state === 'stale') view = await listings.read(d.configurationId, d.groupId, since, ctx);
      if (view.state === 'missing') return this.configurationMissing(ctx, view.failure);
      if (view.assignmentId) {
        await this.record(
          ctx,
          'already-assigned',
          { assignmentId: view.assignmentId },
          { action: 'assigned', assignmentId: view.assignmentId },
        );
        return;
      }
    }
    if (d.gaveUp) {
      // Out of attempts and nothing of ours can have landed: no new POST.
      await this.record(ctx, 'failed', d.gaveUp, { action: 'keep' });
      return;
    }
    if (cancelled) return this.cancelled(ctx);
    await this.post(ctx);
  }

  private async cancelled(ctx: RowContext): Promise<void> {
    await this.record(ctx, 'cancelled', {}, { action: 'keep' });
  }

  private async configurationMissing(ctx: RowContext, f: ListingFailure): Promise<void> {
    await this.record(
      ctx,
      'failed',
      {
        httpStatus: f.httpStatus,
        requestId: f.requestId,
        code: f.code,
        errorCode: f.errorCode,
        errorMessage: f.message,
      },
      { action: 'keep' },
    );
  }

  private async post(ctx: RowContext): Promise<void> {
    const d = ctx.job.data;
    const { graph, keys, retentionMs } = this.deps;
    // The lane writes `sent|<rolloutId>|<grant time>` with the grant, before the request leaves, and
    // only if no other rollout marked this triple since the row looked (two rollouts of the same
    // file at once): the row then runs again and finds that marker instead of posting a duplicate.
    const sentMark = {
      key: keys.rowMarker(ctx.rowKey),
      value: `sent|${d.rolloutId}|`,
      ttlMs: retentionMs,
      exclusive: true,
    };
    try {
      // A row that already sent a POST had its turn in the lane's schedule: its next POST takes the
      // next slot the budget allows, ahead of the rows promised one, instead of queueing behind the
      // whole backlog (seconds at the end of a large rollout) after its settle delay and its look.
      const { value, count } = await graph.call(
        ctx,
        (o) => graph.api.create(d.tenantId, d.configurationId, d.groupId, o),
        sentMark,
        { ahead: ctx.attempts > 0 },
      );
      ctx.attempts = count;
      const id = value.assignment.id || null;
      await this.record(
        ctx,
        'created',
        { assignmentId: id, httpStatus: value.httpStatus, requestId: value.requestId ?? null },
        id ? { action: 'assigned', assignmentId: id } : { action: 'keep' },
      );
    } catch (err) {
      if (ctx.lastCount !== undefined) ctx.attempts = ctx.lastCount;
      if (err instanceof GraphFailure && err.httpStatus === 409) {
        // A Graph that refuses duplicates: the group is assigned already.
        const now = await this.listings.read(d.configurationId, d.groupId, Date.now(), ctx);
        const id = now.state === 'fresh' ? now.assignmentId : null;
        await this.record(
          ctx,
          'already-assigned',
          { assignmentId: id, httpStatus: 409, requestId: err.requestId ?? null },
          id ? { action: 'assigned', assignmentId: id } : { action: 'keep' },
        );
        return;
      }
      const failure = err instanceof ThrottledWait ? err.failure : err;
      if (failure instanceof GraphFailure && failure.ambiguous && ctx.lastSentAt !== undefined) {
        // Throttling, and a 503 with Retry-After, refuse a request at Graph's door: had it been
        // committed, it was committed before the answer, and a look after the wait shows it. A slow
        // commit (the reason for the settle delay) follows a timeout, a reset or another 5xx, not a
        // refusal; so a refused POST is looked for as soon as its lane reopens or its Retry-After
        // ends, not GRAPH_SETTLE_MS later (the marker is dated so).
        const refused = refusedAtDoor(failure);
        const endedAt = refused ? Date.now() - this.deps.policy.settleMs : Date.now();
        await markRowPostEnded(
          this.deps.redis,
          keys.rowMarker(ctx.rowKey),
          `${sentMark.value}${ctx.lastSentAt}`,
          d.rolloutId,
          endedAt,
        );
        if (!refused && (await this.landedAlready(ctx, endedAt))) return;
      } else if (failure instanceof GraphFailure && ctx.lastSentAt !== undefined) {
        // Nothing of this POST reached Graph whole (a refused connection, a reset before the request
        // was uploaded) or Graph refused it outright: its `sent` mark goes, so that its retry posts
        // again after its backoff instead of waiting GRAPH_TIMEOUT_MS + GRAPH_SETTLE_MS to look.
        await clearRowMarkerIfUnchanged(
          this.deps.redis,
          keys.rowMarker(ctx.rowKey),
          `${sentMark.value}${ctx.lastSentAt}`,
        );
      }
      throw err;
    }
  }

  /**
   * A look right after a POST that ended in doubt. The settle delay is there for a commit that lands
   * late, and only a look that finds nothing must wait for it: a POST committed before its answer
   * was lost (a connection dropped after the commit, a 5xx after the write) shows at once, and its
   * row ends now rather than a settle delay, a read and a slot later. Whatever keeps the look from
   * answering at once (the lane, another read of the listing, a fault) leaves the row to its retry.
   */
  private async landedAlready(ctx: RowContext, endedAt: number): Promise<boolean> {
    const d = ctx.job.data;
    let view;
    try {
      view = await this.listings.read(d.configurationId, d.groupId, endedAt, ctx, {
        maxInlineWaitMs: EARLY_LOOK_WAIT_MS,
      });
    } catch (err) {
      if (err instanceof GraphFailure || err instanceof LaneWait) return false;
      throw err;
    }
    if (view.state !== 'fresh' || !view.assignmentId) return false;
    ctx.log.info({ assignmentId: view.assignmentId }, 'the POST had landed before its answer was lost');
    await this.record(
      ctx,
      'created',
      { assignmentId: view.assignmentId },
      { action: 'assigned', assignmentId: view.assignmentId },
    );
    return true;
  }

  /** A Graph failure: retry later (BullMQ's backoff) or end the row as failed. */
  private async failed(ctx: RowContext, failure: GraphFailure): Promise<void> {
    const job = ctx.job;
    const now = Date.now();
    const attempt = job.attemptsMade + 1;
    const decision = decideRetry(failure, attempt, now - (job.data.firstFailedAt ?? now), this.deps.policy);
    ctx.attempts = Math.max(ctx.attempts, ctx.lastCount ?? 0);
    if (decision.retry) {
      if (job.data.firstFailedAt === undefined) await job.updateData({ ...job.data, firstFailedAt: now });
      ctx.log.warn({ err: failure, attempt, retryInMs: decision.delayMs }, 'transient failure; will retry');
      throw new RetryLater(decision.delayMs, failure);
    }
    const why =
      decision.reason === 'permanent'
        ? ''
        : decision.reason === 'attempts'
          ? ` (gave up after ${attempt} attempts)`
          : ' (gave up: RETRY_MAX_AGE_MS reached)';
    const gaveUp: GaveUp = {
      httpStatus: failure.httpStatus ?? null,
      requestId: failure.requestId ?? null,
      code: failure.code,
      errorCode: failure.graphCode ?? null,
      errorMessage: failure.message + why,
    };
    if (failure.ambiguous || this.deleteMayHaveLanded(ctx, decision.reason)) {
      // The last POST (or an earlier DELETE of this row) may have landed: `failed` could be a lie.
      // Look once more after the settle delay (no new write), then record what is true.
      await job.updateData({ ...job.data, gaveUp });
      ctx.log.warn(
        { err: failure, attempt },
        `out of attempts after an ambiguous ${ctx.action === 'delete' ? 'DELETE' : 'POST'}; one last look before recording`,
      );
      throw new RetryLater(this.deps.policy.settleMs, failure);
    }
    // A delete row keeps the mark of an earlier DELETE of ours that may have landed: a `retry` of the
    // row then reads a 404 as ours (`deleted`).
    const keepMark = ctx.action === 'delete' && ctx.earlierWriteMayHaveLanded === true;
    await this.record(ctx, 'failed', gaveUp, keepMark ? { action: 'keep' } : { action: 'clear-own' });
  }

  /**
   * A delete row that runs out of attempts (not refused) after a DELETE of ours that may have landed
   * looks before it records `failed`, even when its last failure was a definite one (a DELETE is sent
   * again without looking, so an earlier attempt's doubt is still open). Never twice: the look itself
   * runs with `gaveUp` set.
   */
  private deleteMayHaveLanded(ctx: RowContext, reason: 'permanent' | 'attempts' | 'age'): boolean {
    return (
      ctx.action === 'delete' &&
      ctx.earlierWriteMayHaveLanded === true &&
      reason !== 'permanent' &&
      ctx.job.data.gaveUp === undefined
    );
  }

  private async record(
    ctx: RowContext,
    kind: OutcomeKind,
    fields: Partial<Outcome>,
    marker: MarkerUpdate,
  ): Promise<void> {
    const d = ctx.job.data;
    const outcome: Outcome = {
      rolloutId: d.rolloutId,
      row: d.row + 1,
      tenantId: d.tenantId,
      configurationId: d.configurationId,
      groupId: d.groupId,
      // Stored only for delete rows (see RolloutStore.record).
      action: ctx.action,
      outcome: kind,
      ...NO_RESULT,
      // A delete row's outcome names the assignment it was to remove, whatever happened.
      ...(d.assignmentId ? { assignmentId: d.assignmentId } : {}),
      attempts: ctx.attempts,
      clientRequestId: ctx.clientRequestId,
      ...fields,
      finishedAt: new Date().toISOString(),
    };
    const written = await this.deps.store.record(outcome, ctx.rowKey, marker);
    // A re-run that found the outcome already there must not count the row twice across the fleet.
    if (written) this.deps.metrics?.outcome(d.tenantId, kind);
    // Failures are worth a line at the default level; a row that did what it should shows at debug.
    const level = kind === 'failed' ? 'warn' : kind === 'cancelled' ? 'info' : 'debug';
    if (!this.deps.logger.isLevelEnabled(level)) return;
    ctx.log[level](
      {
        outcome: kind,
        ...(ctx.action === 'delete' ? {} : { assignmentId: outcome.assignmentId }),
        httpStatus: outcome.httpStatus,
        requestId: outcome.requestId,
        code: outcome.code,
        attempts: outcome.attempts,
        duplicateRecord: !written,
      },
      `row ${kind}`,
    );
  }
}

/** The look right after an ambiguous POST waits no longer than this for its lane slot. */
const EARLY_LOOK_WAIT_MS = 250;

/**
 * When the rollout began, or was last retried, in ms: a listing must have started after it. The job's
 * own enqueue time stands in for a rollout record without a readable `createdAt`.
 */
export function rolloutStartedAt(
  createdAt: string | null | undefined,
  retriedAt: string | null | undefined,
  jobTimestamp: number,
): number {
  const created = createdAt ? Date.parse(createdAt) : Number.NaN;
  const began = Number.isFinite(created) ? created : jobTimestamp;
  return Math.max(began, Number(retriedAt ?? 0) || 0);
}

import { performance } from 'node:perf_hooks';
import type { AssignmentsApi, CallInfo, CallOptions } from '../graph/assignments-api.js';
import { GraphFailure, GraphFailureCodes } from '../graph/graph-failure.js';
import type { RowAction } from '../outcome.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { TenantLanes, AdmitOptions } from './tenant-lanes.js';
import { LaneGate, LaneWait } from './lane-gate.js';
import { ThrottleEvidence } from './throttle-evidence.js';

/** Who is calling: a job (its id holds lane reservations) of one tenant. */
export interface CallerContext {
  tenantId: string;
  owner: string;
  clientRequestId: string;
  /** Where this row's requests are counted (its outcome's `attempts`). */
  countIn?: AdmitOptions['countIn'];
  /** The last grant of this caller: when it was sent, and the row's POST count after it. */
  lastSentAt?: number;
  lastCount?: number;
  /** A row's write: a POST, or a DELETE for a delete row (for the metrics' `method`). */
  action?: RowAction;
}

/** How a call takes its lane slot. */
export interface SlotOptions {
  /**
   * How long to wait for the slot in place before parking the row; a multi-page read waits longer,
   * since parking would restart it from the first page.
   */
  maxInlineWaitMs?: number;
  /** Take the next slot the lane's hard bound allows, ahead of the rows already promised one (see AdmitOptions). */
  ahead?: boolean;
}

/**
 * Graph calls that pass the tenant's lane first and report throttling back to it. A 429 (or a 503
 * that ThrottleEvidence reads as throttling) pauses the lane for Retry-After (exponential backoff
 * with jitter when absent) and parks the row until the lane opens, without spending an attempt.
 * Any other failure is the request's own: the caller retries it, the lane's pace is untouched.
 */
export class LaneBoundGraph {
  private readonly gate: LaneGate;
  private readonly evidence = new ThrottleEvidence();

  constructor(
    readonly api: AssignmentsApi,
    private readonly lanes: TenantLanes,
    private readonly baseDelayMs: number,
    shutdown?: AbortSignal,
    /** Absent for one-off callers such as the `sync` command, which export no metrics. */
    private readonly metrics?: WorkerMetrics,
  ) {
    this.gate = new LaneGate(lanes, 250, shutdown);
  }

  async call<T extends CallInfo>(
    ctx: CallerContext,
    run: (options: CallOptions) => Promise<T>,
    marker?: AdmitOptions['marker'],
    slot: SlotOptions = {},
  ): Promise<{ value: T; count: number }> {
    try {
      return await this.once(ctx, run, false, marker, slot);
    } catch (err) {
      if (!(err instanceof GraphFailure && err.kind === 'unauthorized')) throw err;
      // A 401: the cached token may have been revoked or expired early. The same request once more
      // with a token fresh from Entra ID; a second 401 is final.
      return this.once(ctx, run, true, marker, slot);
    }
  }

  /**
   * Graph counts a request when it gets to it, somewhere between when it left and when its answer
   * came back; a burst reaches Graph's counter spread over the time Graph takes to read it. A send
   * answered well after its grant is counted in the lane's schedule at the time of its answer, the
   * latest Graph can have counted it, so the rows granted after it keep their distance as Graph sees
   * it. Costs a Redis call only for such sends of a bound lane.
   */
  private async noteLateAnswer(ctx: CallerContext, grantedAt: number, logged: boolean): Promise<void> {
    const answeredAt = Date.now();
    if (logged && answeredAt - grantedAt > LATE_ANSWER_MS) {
      await this.lanes.sentLate(ctx.tenantId, ctx.owner, grantedAt, answeredAt);
    }
  }

  private async once<T extends CallInfo>(
    ctx: CallerContext,
    run: (options: CallOptions) => Promise<T>,
    freshToken: boolean,
    marker: AdmitOptions['marker'] | undefined,
    slot: SlotOptions,
  ): Promise<{ value: T; count: number }> {
    try {
      await this.api.prepare(ctx.tenantId, freshToken);
    } catch (err) {
      // The tenant's token endpoint is down: the row waits for the next probe without spending an
      // attempt (TokenProvider keeps it to one probe at a time per process).
      if (err instanceof GraphFailure && err.code === GraphFailureCodes.TOKEN_UNAVAILABLE) {
        const jitterMs = Math.floor(Math.random() * AUTH_WAIT_JITTER_MS);
        throw new AuthWait(Date.now() + (err.retryAfterMs ?? 1000) + jitterMs, err);
      }
      throw err;
    }
    const { sentAt, count, logged } = await this.gate.pass(
      ctx.tenantId,
      { owner: ctx.owner, marker, countIn: marker ? ctx.countIn : undefined, ahead: slot.ahead },
      slot.maxInlineWaitMs,
    );
    ctx.lastSentAt = sentAt;
    if (marker) ctx.lastCount = count;
    // Writes, and only writes, are admitted with their `sent` marker.
    const method = marker ? (ctx.action === 'delete' ? 'DELETE' : 'POST') : 'GET';
    const startedAt = performance.now();
    try {
      const value = await run({ clientRequestId: ctx.clientRequestId });
      this.metrics?.graphRequest(ctx.tenantId, method, value.httpStatus, (performance.now() - startedAt) / 1000);
      this.evidence.answer(ctx.tenantId, undefined);
      this.lanes.accepted(ctx.tenantId);
      await this.noteLateAnswer(ctx, sentAt, logged);
      return { value, count };
    } catch (err) {
      const status = err instanceof GraphFailure ? (err.httpStatus ?? err.graphCode ?? 'unknown') : 'error';
      this.metrics?.graphRequest(ctx.tenantId, method, status, (performance.now() - startedAt) / 1000);
      await this.noteLateAnswer(ctx, sentAt, logged);
      const failure = err instanceof GraphFailure ? err : undefined;
      if (this.evidence.answer(ctx.tenantId, failure) && failure) {
        this.metrics?.throttled(ctx.tenantId, failure.retryAfterMs);
        const now = Date.now();
        const until = await this.lanes.throttled(ctx.tenantId, failure.retryAfterMs, sentAt, now, {
          baseDelayMs: this.baseDelayMs,
        });
        this.metrics?.lanePaused(ctx.tenantId);
        throw new ThrottledWait(until, failure);
      }
      throw err;
    }
  }
}

/** Sends answered this much after their grant are re-dated in the lane's schedule. */
const LATE_ANSWER_MS = 10;

/** A 429: the row waits for its lane to reopen; the answer is kept for the log and the marker. */
export class ThrottledWait extends LaneWait {
  constructor(
    untilMs: number,
    readonly failure: GraphFailure,
  ) {
    super(untilMs);
    this.name = 'ThrottledWait';
  }
}

/** Rows waiting out a token outage come back spread over this much after the next probe. */
const AUTH_WAIT_JITTER_MS = 200;

/** The tenant's token endpoint is down: the row waits for the next probe, spending no attempt. */
export class AuthWait extends LaneWait {
  constructor(
    untilMs: number,
    readonly failure: GraphFailure,
  ) {
    super(untilMs);
    this.name = 'AuthWait';
  }
}

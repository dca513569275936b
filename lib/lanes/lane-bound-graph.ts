import { performance } from 'node:perf_hooks';
import type { AssignmentsApi, CallInfo, CallOptions } from '../graph/assignments-api.js';
import { GraphFailure } from '../graph/graph-failure.js';
import type { RowAction } from '../outcome.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { TenantLanes, AdmitOptions } from './tenant-lanes.js';
import { LaneGate, LaneWait } from './lane-gate.js';

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
 * Graph calls that pass the tenant's lane first and report throttling back to it. A 429 or 503
 * pauses the lane for Retry-After (exponential backoff with jitter when absent); a 429 then parks the
 * row until the lane opens, without spending an attempt.
 */
export class LaneBoundGraph {
  private readonly gate: LaneGate;

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
   * A request that left well after its grant (a busy event loop, a new TLS connection) is counted in
   * the lane's window at the time it really left, so the rows granted after it keep their distance
   * as Graph sees it. Costs a Redis call only for such late sends.
   */
  private async noteLateSend(ctx: CallerContext, grantedAt: number, uploadedAt: number | undefined): Promise<void> {
    if (uploadedAt !== undefined && uploadedAt - grantedAt > LATE_SEND_MS) {
      await this.lanes.sentLate(ctx.tenantId, ctx.owner, grantedAt, uploadedAt);
    }
  }

  private async once<T extends CallInfo>(
    ctx: CallerContext,
    run: (options: CallOptions) => Promise<T>,
    freshToken: boolean,
    marker: AdmitOptions['marker'] | undefined,
    slot: SlotOptions,
  ): Promise<{ value: T; count: number }> {
    await this.api.prepare(ctx.tenantId, freshToken);
    const { sentAt, count, seq } = await this.gate.pass(
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
      await this.noteLateSend(ctx, sentAt, value.uploadedAt);
      return { value, count };
    } catch (err) {
      const status = err instanceof GraphFailure ? (err.httpStatus ?? err.graphCode ?? 'unknown') : 'error';
      this.metrics?.graphRequest(ctx.tenantId, method, status, (performance.now() - startedAt) / 1000);
      if (err instanceof GraphFailure) await this.noteLateSend(ctx, sentAt, err.uploadedAt);
      if (err instanceof GraphFailure && err.kind === 'throttled')
        this.metrics?.throttled(ctx.tenantId, err.retryAfterMs);
      if (err instanceof GraphFailure && (err.kind === 'throttled' || err.httpStatus === 503)) {
        // A 429 says the requests granted before this one were what Graph would take (`seq`); a 503
        // is as often a fault as load, so it is weighed against every send since the lane resumed,
        // and one early in a run does not read as a pace far over the limit.
        const accepted = err.kind === 'throttled' ? seq : undefined;
        const until = await this.lanes.throttled(ctx.tenantId, err.retryAfterMs, sentAt, Date.now(), {
          baseDelayMs: this.baseDelayMs,
          seq: accepted,
        });
        this.metrics?.lanePaused(ctx.tenantId);
        if (err.kind === 'throttled') throw new ThrottledWait(until, err);
      }
      throw err;
    }
  }
}

/** Sends that left this much after their grant are re-dated in the lane's window. */
const LATE_SEND_MS = 10;

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

import type { AssignmentsApi, CallOptions } from '../lib/graph/assignments-api.js';
import { GraphFailure } from '../lib/graph/graph-failure.js';
import type { TenantLanes, AdmitOptions } from './tenant-lanes.js';
import { LaneGate, LaneWait } from './lane-gate.js';
import { backoffDelayMs } from './retry-policy.js';

/** Who is calling: a job (its id holds lane reservations) of one tenant. */
export interface CallerContext {
  tenantId: string;
  owner: string;
  clientRequestId: string;
  /** Where this row's requests are counted (its outcome's `attempts`). */
  countIn?: AdmitOptions['countIn'];
  /** Set after a 401: the next token comes from Entra ID, not the cache. */
  refreshToken: boolean;
  /** The last grant of this caller: when it was sent, and the row's POST count after it. */
  lastSentAt?: number;
  lastCount?: number;
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
  ) {
    this.gate = new LaneGate(lanes, 250, shutdown);
  }

  /** Throttle count within this process, per tenant, to grow the backoff when Graph gives no Retry-After. */
  private readonly throttleStreak = new Map<string, number>();

  /**
   * `maxInlineWaitMs`: how long to wait for the slot in place before parking the row; a multi-page
   * read waits longer, since parking would restart it from the first page.
   */
  async call<T>(ctx: CallerContext, run: (options: CallOptions) => Promise<T>, marker?: AdmitOptions['marker'], maxInlineWaitMs?: number): Promise<{ value: T; count: number }> {
    // Only POSTs count towards a row's attempts; the reads that check for an earlier POST do not.
    await this.api.prepare(ctx.tenantId, ctx.refreshToken);
    const { sentAt, count } = await this.gate.pass(ctx.tenantId, { owner: ctx.owner, marker, countIn: marker ? ctx.countIn : undefined }, maxInlineWaitMs);
    ctx.lastSentAt = sentAt;
    if (marker) ctx.lastCount = count;
    try {
      const value = await run({ clientRequestId: ctx.clientRequestId, refreshToken: ctx.refreshToken });
      this.throttleStreak.delete(ctx.tenantId);
      return { value, count };
    } catch (err) {
      if (err instanceof GraphFailure && (err.kind === 'throttled' || err.httpStatus === 503)) {
        const streak = (this.throttleStreak.get(ctx.tenantId) ?? 0) + 1;
        this.throttleStreak.set(ctx.tenantId, streak);
        const pauseMs = err.retryAfterMs ?? backoffDelayMs(streak, this.baseDelayMs);
        const until = await this.lanes.throttled(ctx.tenantId, pauseMs, sentAt);
        if (err.kind === 'throttled') throw new ThrottledWait(until, err);
      }
      throw err;
    }
  }
}

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

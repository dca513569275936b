import type { GraphFailure } from '../graph/graph-failure.js';

/** One answer of a lane's request: did it look like throttling, and which grant was it. */
interface Answer {
  throttled: boolean;
  /** The grant's number since the lane resumed (0 = unknown), and when it was granted. */
  seq: number;
  sentAt: number;
}

/**
 * Which answers teach a lane its pace. A 429 always does. A 5xx, a reset or a timeout says nothing
 * about the tenant's budget: it is the request's fault, retried with backoff, and the lane keeps
 * its pace. A 503 is both: Graph sends it with Retry-After when it sheds load, and a faulty node
 * sends it too. The rule: a 503 with Retry-After is throttling when at least `needed` of the last
 * `window` answers this process got from the tenant (itself included) were 429s or 503s with
 * Retry-After; a 503 without Retry-After never is.
 *
 * Why it holds: throttling comes in runs (every request over the budget is refused until the window
 * frees), faults come one at a time. With 3 % of answers such 503s, 4 of 10 by chance happens about
 * once in 18,000 answers (3 of 10: once in 1,200); a throttled burst reaches it within its first
 * few answers. The count is kept in the process, not in Redis: it costs nothing per request, and a
 * run of throttling shows in every process that sends to the tenant.
 */
export class ThrottleEvidence {
  private readonly recent = new Map<string, { answers: Answer[]; pausedAt: number }>();

  constructor(
    private readonly window = 10,
    private readonly needed = 4,
  ) {}

  /**
   * Counts this answer to the request granted as `seq` at `sentAt`, and says whether it is a
   * throttling signal for the tenant's lane.
   */
  answer(tenantId: string, failure: GraphFailure | undefined, seq = 0, sentAt = 0): boolean {
    const throttled =
      failure !== undefined &&
      (failure.kind === 'throttled' || (failure.httpStatus === 503 && failure.retryAfterMs !== undefined));
    let tenant = this.recent.get(tenantId);
    if (!tenant) {
      // Nothing to remember about a tenant that has only had good answers.
      if (!throttled) return false;
      tenant = { answers: [], pausedAt: 0 };
      this.recent.set(tenantId, tenant);
    }
    tenant.answers.push({ throttled, seq, sentAt });
    if (tenant.answers.length > this.window) tenant.answers.shift();
    if (!throttled) {
      if (!tenant.answers.some((a) => a.throttled)) this.recent.delete(tenantId);
      return false;
    }
    if (failure.kind === 'throttled') return true;
    return tenant.answers.filter((a) => a.throttled).length >= this.needed;
  }

  /**
   * The earliest grant among the throttled answers since this process last paused the lane: a 503
   * read as throttling only after a few of them says Graph stopped accepting at the first.
   */
  firstThrottledSeq(tenantId: string, seq: number): number {
    const tenant = this.recent.get(tenantId);
    if (!tenant) return seq;
    let first = seq;
    for (const a of tenant.answers)
      if (a.throttled && a.seq > 0 && a.sentAt >= tenant.pausedAt && a.seq < first) first = a.seq;
    return first;
  }

  /** The lane was paused at `atMs`: answers to requests granted before belong to that burst. */
  paused(tenantId: string, atMs: number): void {
    const tenant = this.recent.get(tenantId);
    if (tenant) tenant.pausedAt = Math.max(tenant.pausedAt, atMs);
  }
}

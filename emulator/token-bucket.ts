import { monotonicClock, type Clock } from './monotonic-clock.js';
import type { RequestKind, ThrottleModel } from './throttle-model.js';

/**
 * A token bucket per tenant over every Graph request, reads included: the bucket holds at most `max`
 * tokens, starts full, refills continuously at `max` per `windowMs`, and each accepted request takes
 * one. A burst of `max` goes through at once; after that the rate is `max` per window. (So a sliding
 * window can see up to twice `max`: the burst plus the refill.)
 */
export class TokenBucket implements ThrottleModel {
  readonly name = 'token-bucket';
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: Clock = monotonicClock,
  ) {}

  counts(_kind: RequestKind): boolean {
    return true;
  }

  waitMs(tenantId: string, _kind: RequestKind): number {
    const tokens = this.refill(tenantId).tokens;
    if (tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - tokens) * this.windowMs) / this.max));
  }

  record(tenantId: string, _kind: RequestKind): void {
    this.refill(tenantId).tokens -= 1;
  }

  private refill(tenantId: string): { tokens: number; at: number } {
    const now = this.now();
    let bucket = this.buckets.get(tenantId);
    if (!bucket) {
      bucket = { tokens: this.max, at: now };
      this.buckets.set(tenantId, bucket);
    }
    bucket.tokens = Math.min(this.max, bucket.tokens + ((now - bucket.at) * this.max) / this.windowMs);
    // Guard against float dust (0.9999999 after exactly the refill time) making a client wait 1 ms more.
    if (Math.abs(bucket.tokens - Math.round(bucket.tokens)) < 1e-9) bucket.tokens = Math.round(bucket.tokens);
    bucket.at = now;
    return bucket;
  }
}

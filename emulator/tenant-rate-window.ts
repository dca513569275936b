import type { RateLimit } from '../lib/rate-limit-spec.js';
import { monotonicClock, type Clock } from './monotonic-clock.js';
import type { RequestKind, ThrottleModel } from './throttle-model.js';

/**
 * Graph's per-tenant write throttle as a sliding window: a write is admitted when fewer than `max`
 * writes were admitted in the last `windowMs`. Checking and recording are separate steps because only
 * writes that are actually accepted take a slot (a 400 or a 404 does not), and the caller knows that
 * only after validating the request. Both steps run in one synchronous stretch, so nothing slips in
 * between. This is the `sliding-writes` throttle model, the default; reads pass untouched.
 */
export class TenantRateWindow implements ThrottleModel {
  readonly name = 'sliding-writes';
  private limit: RateLimit | undefined;
  /** Per tenant, admission times (ascending) still inside the window. */
  private readonly admitted = new Map<string, number[]>();

  constructor(
    limit?: RateLimit,
    private readonly now: Clock = monotonicClock,
  ) {
    this.limit = limit;
  }

  /** Replaces the limit (undefined lifts it). Writes already admitted keep counting against the new one. */
  setLimit(limit: RateLimit | undefined): void {
    this.limit = limit;
  }

  currentLimit(): RateLimit | undefined {
    return this.limit;
  }

  counts(kind: RequestKind): boolean {
    return kind === 'write';
  }

  /** 0 when the tenant may write now, otherwise the milliseconds until a slot frees. */
  waitMs(tenantId: string, kind: RequestKind = 'write'): number {
    if (!this.limit || kind !== 'write') return 0;
    const times = this.prune(tenantId, this.limit.windowMs);
    if (times.length < this.limit.max) return 0;
    // The slot that frees first belongs to the write that would have to leave for the count to drop
    // below max; more than one may have to leave when the limit was lowered at run time.
    const leaving = times[times.length - this.limit.max] ?? this.now();
    return Math.max(1, leaving + this.limit.windowMs - this.now());
  }

  /** Takes a slot for an accepted write. */
  record(tenantId: string, kind: RequestKind = 'write'): void {
    if (!this.limit || kind !== 'write') return;
    const times = this.admitted.get(tenantId);
    if (times) times.push(this.now());
    else this.admitted.set(tenantId, [this.now()]);
  }

  clear(): void {
    this.admitted.clear();
  }

  private prune(tenantId: string, windowMs: number): number[] {
    const times = this.admitted.get(tenantId) ?? [];
    const cutoff = this.now() - windowMs;
    let stale = 0;
    while (stale < times.length && (times[stale] ?? 0) <= cutoff) stale += 1;
    if (stale > 0) times.splice(0, stale);
    return times;
  }
}

import type { RateLimit } from '../rate-limit-spec.js';

/** The numbers a tenant lane runs on, derived once from GRAPH_RATE_LIMIT (or its absence). */
export interface LanePacing {
  /** Sends allowed per window; 0 = no configured limit, learn the budget from Graph. */
  max: number;
  /** The window we enforce, slightly longer than configured (see below). */
  windowMs: number;
  /** A slot this close ahead counts as now (saves a pointless wait of a millisecond or two). */
  toleranceMs: number;
  /** Learning: margin over the window the first throttle measures. */
  estimateMargin: number;
  /** Learning: a burst with fewer sends than this says nothing about the budget (only pauses). */
  minSendsToLearn: number;
  maxLearnedWindowMs: number;
  /** Learning: a learned budget holds this long after a throttle... */
  holdMs: number;
  /** ...then probes upwards, its rate doubling every halvingMs until Graph throttles again. */
  halvingMs: number;
  /** Promised slots and sends stay in the schedule at least this long after their time. */
  keepMs: number;
}

/**
 * Graph counts requests when they arrive, we count them when we send. A request delayed on the
 * way arrives closer to the next one than it left, so the window we enforce is 1% + 15 ms longer than
 * the configured one (1,025 ms for 25/1s, 20.215 s for Intune's 100/20s). Sends answered more than
 * 10 ms after their grant (a new TLS handshake, a busy event loop, a burst Graph reads one by one)
 * are re-dated in the lane's schedule to their answer (LaneBoundGraph), so the margin only has to
 * cover what is left.
 *
 * A learned budget holds 2 s after a throttle, then its rate doubles every 4 s: a lane that was
 * slowed to a fifth of what the tenant takes is back above 0.9 of it 11 s after the throttling
 * stopped, and one at the edge probes past it about every 3 s, which costs a few throttled requests
 * and a pause no longer than Graph would have made it wait anyway.
 */
export function lanePacing(limit: RateLimit | undefined): LanePacing {
  const learning = {
    estimateMargin: 1.03,
    minSendsToLearn: 3,
    maxLearnedWindowMs: 600_000,
    holdMs: 2_000,
    halvingMs: 4_000,
    keepMs: 60_000,
  };
  if (!limit) return { max: 0, windowMs: 0, toleranceMs: 2, ...learning };
  const windowMs = Math.ceil(limit.windowMs * 1.01 + 15);
  return { max: limit.max, windowMs, toleranceMs: 2, ...learning };
}

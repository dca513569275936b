import type { RateLimit } from '../rate-limit-spec.js';

/** The numbers a tenant lane runs on, derived once from GRAPH_RATE_LIMIT (or its absence). */
export interface LanePacing {
  /** Sends allowed per window; 0 = no configured limit, learn from Graph. */
  max: number;
  /** The window we enforce, slightly longer than configured (see below). */
  windowMs: number;
  /** Spacing between slots; learned instead when max is 0. */
  intervalMs: number;
  /** A slot this close ahead counts as now (saves a pointless wait of a millisecond or two). */
  toleranceMs: number;
  /** Learning: interval growth per throttling burst, at most... */
  slowdownFactor: number;
  /** ...and at least. Between the two, the pace Graph accepted since the lane last resumed decides. */
  minSlowdownFactor: number;
  /** Learning: margin over the pace Graph accepted before it throttled. */
  estimateMargin: number;
  minLearnedIntervalMs: number;
  maxLearnedIntervalMs: number;
  /** Learning: a burst with fewer sends than this says nothing about the pace (only pauses). */
  minSendsToLearn: number;
  /** Learning: the interval after a throttle when too few sends were seen to estimate one. */
  firstGuessIntervalMs: number;
  /** Learning: no throttling for this long and the lane starts to speed up again... */
  quietBeforeSpeedupMs: number;
  /** ...by this factor on the interval per send. */
  speedupFactor: number;
}

/**
 * Graph counts requests when they arrive, we count them when we send. A request delayed on the
 * way arrives closer to the next one than it left, so the window we enforce is 1% + 15 ms longer than
 * the configured one (1,025 ms for 25/1s, 20.215 s for Intune's 100/20s). Sends that leave more than
 * 10 ms after their grant (a new TLS handshake, a busy event loop) are re-dated in the lane's log
 * (LaneBoundGraph), so the margin only has to cover the trip from socket to Graph's counter. It was
 * 5% + 50 ms before re-dating existed; that cost 9% of throughput at 25/1s (benchmark: throttle).
 */
export function lanePacing(limit: RateLimit | undefined): LanePacing {
  const learning = {
    slowdownFactor: 1.25,
    minSlowdownFactor: 1.05,
    estimateMargin: 1.03,
    minLearnedIntervalMs: 1,
    maxLearnedIntervalMs: 60_000,
    minSendsToLearn: 3,
    firstGuessIntervalMs: 100,
    quietBeforeSpeedupMs: 20_000,
    speedupFactor: 0.9995,
  };
  if (!limit) return { max: 0, windowMs: 0, intervalMs: 0, toleranceMs: 2, ...learning };
  const windowMs = Math.ceil(limit.windowMs * 1.01 + 15);
  return { max: limit.max, windowMs, intervalMs: windowMs / limit.max, toleranceMs: 2, ...learning };
}

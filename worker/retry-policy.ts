import type { GraphFailure } from '../lib/graph/graph-failure.js';

export interface RetryPolicy {
  maxAttempts: number;
  maxAgeMs: number;
  baseDelayMs: number;
  /** After an ambiguous end, the next look at Graph waits at least this long (a slow commit lands). */
  settleMs: number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'permanent' | 'attempts' | 'age' };

/** The longest backoff, here and in a lane's pause without Retry-After (worker/tenant-lanes.ts). */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Exponential backoff with jitter: base * 2^(attempt-1), scaled by a random factor in [0.5, 1)
 * so workers that failed together do not come back together. `attempt` counts from 1.
 */
export function backoffDelayMs(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + random() / 2));
}

/**
 * What to do after a failed attempt. `attempt` is the number of attempts spent including this one;
 * `ageMs` how long ago the row was enqueued. Throttling does not come here: a throttled row waits
 * for its lane without spending an attempt.
 */
export function decideRetry(
  failure: Pick<GraphFailure, 'kind' | 'ambiguous' | 'retryAfterMs'>,
  attempt: number,
  ageMs: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (failure.kind === 'permanent' || failure.kind === 'unauthorized') return { retry: false, reason: 'permanent' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'attempts' };
  let delayMs = backoffDelayMs(attempt, policy.baseDelayMs, random);
  if (failure.retryAfterMs !== undefined) delayMs = Math.max(delayMs, failure.retryAfterMs);
  if (failure.ambiguous) delayMs = Math.max(delayMs, policy.settleMs);
  if (ageMs + delayMs > policy.maxAgeMs) return { retry: false, reason: 'age' };
  return { retry: true, delayMs };
}

import { refusedAtDoor, type GraphFailure } from '../lib/graph/graph-failure.js';
import { backoffDelayMs } from '../lib/lanes/backoff.js';

export interface RetryPolicy {
  maxAttempts: number;
  maxAgeMs: number;
  baseDelayMs: number;
  /** After an ambiguous end, the next look at Graph waits at least this long (a slow commit lands). */
  settleMs: number;
}

export type RetryDecision =
  { retry: true; delayMs: number } | { retry: false; reason: 'permanent' | 'attempts' | 'age' };

/**
 * What to do after a failed attempt: wait what Retry-After asks, or else back off exponentially;
 * after an ambiguous end at least `settleMs`, unless Graph refused the write at its door with a
 * Retry-After (refusedAtDoor): then the wait it asked for is all the next look needs.
 * `attempt` is the number of attempts spent including this one; `ageMs` how long ago the row was
 * enqueued. Throttling does not come here: a throttled row waits
 * for its lane without spending an attempt.
 */
export function decideRetry(
  failure: Pick<GraphFailure, 'kind' | 'ambiguous' | 'retryAfterMs' | 'httpStatus'>,
  attempt: number,
  ageMs: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (failure.kind === 'permanent' || failure.kind === 'unauthorized') return { retry: false, reason: 'permanent' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'attempts' };
  // Graph said when to come back (a 503 with Retry-After): that, not a guess. Otherwise back off.
  let delayMs =
    failure.retryAfterMs !== undefined ? failure.retryAfterMs : backoffDelayMs(attempt, policy.baseDelayMs, random);
  if (failure.ambiguous && !refusedAtDoor(failure)) delayMs = Math.max(delayMs, policy.settleMs);
  if (ageMs + delayMs > policy.maxAgeMs) return { retry: false, reason: 'age' };
  return { retry: true, delayMs };
}

/** Thrown to let BullMQ retry the row after `retryDelayMs` (read by the worker's backoff strategy). */
export class RetryLater extends Error {
  constructor(
    readonly retryDelayMs: number,
    readonly failure: GraphFailure,
  ) {
    super(`${failure.code}: ${failure.message}`);
    this.name = 'RetryLater';
  }
}

/**
 * BullMQ's backoff hook for rows (the Worker's `settings.backoffStrategy`): a row that threw
 * RetryLater waits the delay its processor decided (Retry-After, settle time, jitter included);
 * anything else that escaped the processor backs off exponentially.
 */
export function rowBackoffStrategy(baseDelayMs: number): (attemptsMade: number, type?: string, err?: Error) => number {
  return (attemptsMade, _type, err) =>
    err instanceof RetryLater ? err.retryDelayMs : backoffDelayMs(attemptsMade, baseDelayMs);
}

import { setTimeout as sleepFor } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';

export { AbortError };

/** One failed attempt, as `nextDelayMs` sees it. */
export interface FailedAttempt {
  /** What the attempt threw, untouched (not necessarily an Error). */
  readonly error: unknown;
  /** Which attempt failed, counted from 1. */
  readonly attempt: number;
  /** Attempts still allowed after this one: 0 after the last, Infinity when unbounded. */
  readonly attemptsLeft: number;
}

export interface RetryOptions {
  /** Tries, the first included (at least one is made); Infinity to go on for as long as `nextDelayMs` returns. */
  maxAttempts: number;
  /**
   * Called after every failed attempt, the last one included (`attemptsLeft` 0), so the caller
   * decides what the final error says. Throws to stop: retryWith rejects with what it throws (the
   * error inside, for an AbortError). Otherwise returns how long to wait before the next attempt;
   * returning after the last attempt rejects with that attempt's error.
   */
  nextDelayMs(failure: FailedAttempt): number | Promise<number>;
  /** Handed to `sleep`: a shutdown ends a wait at once. An attempt in progress is left to finish. */
  signal?: AbortSignal;
  /** How a wait is spent, 0 ms included; a fake clock's in tests. Default: node:timers/promises. */
  sleep?: (delayMs: number, signal: AbortSignal | undefined) => Promise<unknown>;
}

/**
 * Carries an attempt's error through p-retry, which would turn a non-Error into a TypeError and never retry a
 * TypeError.
 */
class AttemptError extends Error {
  constructor(readonly thrown: unknown) {
    super('attempt failed');
  }
}

/**
 * Runs `operation` until it succeeds, `nextDelayMs` throws, or `maxAttempts` are spent. An
 * operation may throw an AbortError to stop at once without asking `nextDelayMs`.
 */
export async function retryWith<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep =
    options.sleep ?? ((delayMs: number, signal: AbortSignal | undefined) => sleepFor(delayMs, undefined, { signal }));
  try {
    return await pRetry(
      async (attempt) => {
        try {
          return await operation(attempt);
        } catch (err) {
          throw err instanceof AbortError ? err : new AttemptError(err);
        }
      },
      {
        // Rounded up, so attempt n is the last once n >= maxAttempts.
        retries: Math.max(0, Math.ceil(options.maxAttempts) - 1),
        // p-retry's own waits follow minTimeout · factor^n on a real timer: they cannot honour a
        // Retry-After, a lane's reopening or a fake clock. At 0 it sets no timer at all, and the
        // wait the caller decided is spent here instead, since p-retry 7 awaits onFailedAttempt
        // before the next attempt (and rejects with whatever it throws).
        minTimeout: 0,
        // No `signal` for p-retry: it would also throw away the result of an attempt that succeeded
        // while the signal was aborted. Only the wait is cut short.
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const thrown = error instanceof AttemptError ? error.thrown : error;
          const delayMs = await options.nextDelayMs({
            error: thrown,
            attempt: attemptNumber,
            attemptsLeft: retriesLeft,
          });
          if (retriesLeft > 0) await sleep(delayMs, options.signal);
        },
      },
    );
  } catch (err) {
    if (err instanceof AttemptError) throw err.thrown;
    if (err instanceof AbortError) throw err.originalError;
    throw err;
  }
}

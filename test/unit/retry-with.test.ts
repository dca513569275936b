import { describe, expect, it } from 'vitest';
import { AbortError, retryWith, type FailedAttempt } from '../../lib/retry/retry-with.js';

/** A sleep that passes at once and records what it was asked to wait. */
function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (delayMs: number) => void waits.push(delayMs) };
}

/** An operation that throws each scripted failure in turn, then returns `value`. */
function scripted<T>(failures: unknown[], value: T) {
  const attempts: number[] = [];
  return {
    attempts,
    operation: async (attempt: number) => {
      attempts.push(attempt);
      if (failures.length > 0) throw failures.shift();
      return value;
    },
  };
}

describe('retryWith', () => {
  it('returns the first success, numbering attempts from 1', async () => {
    const { operation, attempts } = scripted([new Error('a'), new Error('b')], 'done');
    const { sleep } = fakeSleep();
    expect(await retryWith(operation, { maxAttempts: 5, nextDelayMs: () => 0, sleep })).toBe('done');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('makes maxAttempts attempts, the first included, and then rejects with the last error', async () => {
    const last = new Error('third');
    const { operation, attempts } = scripted([new Error('first'), new Error('second'), last], 'never');
    const seen: Omit<FailedAttempt, 'error'>[] = [];
    const { sleep, waits } = fakeSleep();
    const result = retryWith(operation, {
      maxAttempts: 3,
      nextDelayMs: ({ attempt, attemptsLeft }) => {
        seen.push({ attempt, attemptsLeft });
        return 10;
      },
      sleep,
    });
    await expect(result).rejects.toBe(last);
    expect(attempts).toEqual([1, 2, 3]);
    expect(seen).toEqual([
      { attempt: 1, attemptsLeft: 2 },
      { attempt: 2, attemptsLeft: 1 },
      { attempt: 3, attemptsLeft: 0 },
    ]);
    // No wait after the last attempt: nothing follows it.
    expect(waits).toEqual([10, 10]);
  });

  it('rejects with what nextDelayMs throws after the last attempt (the caller words the final error)', async () => {
    const { operation } = scripted([new Error('x'), new Error('x')], 'never');
    const { sleep } = fakeSleep();
    const result = retryWith(operation, {
      maxAttempts: 2,
      nextDelayMs: ({ attempt, attemptsLeft }) => {
        if (attemptsLeft === 0) throw new Error(`gave up after ${attempt} attempts`);
        return 0;
      },
      sleep,
    });
    await expect(result).rejects.toThrow('gave up after 2 attempts');
  });

  it('waits what nextDelayMs decided before each next attempt, through the given sleep', async () => {
    const { operation } = scripted([new Error('a'), new Error('b'), new Error('c')], 'ok');
    const { sleep, waits } = fakeSleep();
    const delays = [3000, 250, 0];
    expect(await retryWith(operation, { maxAttempts: 4, nextDelayMs: () => delays.shift()!, sleep })).toBe('ok');
    expect(waits).toEqual([3000, 250, 0]);
  });

  it('does not wait on timers of its own', async () => {
    const { operation } = scripted([new Error('a'), new Error('b'), new Error('c')], 'ok');
    const { sleep } = fakeSleep();
    const startedAt = performance.now();
    await retryWith(operation, { maxAttempts: 4, nextDelayMs: () => 60_000, sleep });
    // p-retry's default would have waited 1 s, 2 s and 4 s.
    expect(performance.now() - startedAt).toBeLessThan(500);
  });

  it('passes the failed attempt its error as thrown, and retries TypeErrors and non-Errors too', async () => {
    const bug = new TypeError('not a network error');
    const { operation, attempts } = scripted([bug, 'a string'], 'ok');
    const errors: unknown[] = [];
    const { sleep } = fakeSleep();
    const result = await retryWith(operation, {
      maxAttempts: 3,
      nextDelayMs: ({ error }) => {
        errors.push(error);
        return 0;
      },
      sleep,
    });
    expect(result).toBe('ok');
    expect(errors[0]).toBe(bug);
    expect(errors[1]).toBe('a string');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('stops at once, without a wait, when nextDelayMs throws (a permanent failure)', async () => {
    const permanent = new Error('404');
    const { operation, attempts } = scripted([permanent, new Error('not reached')], 'never');
    const { sleep, waits } = fakeSleep();
    const result = retryWith(operation, {
      maxAttempts: 5,
      nextDelayMs: ({ error }) => {
        throw error;
      },
      sleep,
    });
    await expect(result).rejects.toBe(permanent);
    expect(attempts).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it('stops at once with the error inside an AbortError, from nextDelayMs or from the operation itself', async () => {
    const permanent = new Error('rejected credentials');
    const { sleep, waits } = fakeSleep();

    const fromDecision = scripted([new Error('400')], 'never');
    const decided = retryWith(fromDecision.operation, {
      maxAttempts: 5,
      nextDelayMs: () => {
        throw new AbortError(permanent);
      },
      sleep,
    });
    await expect(decided).rejects.toBe(permanent);
    expect(fromDecision.attempts).toEqual([1]);

    const fromOperation = scripted([new AbortError(permanent)], 'never');
    let asked = 0;
    const thrown = retryWith(fromOperation.operation, { maxAttempts: 5, nextDelayMs: () => ++asked, sleep });
    await expect(thrown).rejects.toBe(permanent);
    expect(fromOperation.attempts).toEqual([1]);
    expect(asked).toBe(0);
    expect(waits).toEqual([]);
  });

  it('goes on without a count when maxAttempts is Infinity, until nextDelayMs throws', async () => {
    const attempts: number[] = [];
    const { sleep } = fakeSleep();
    const result = retryWith(
      async (attempt) => {
        attempts.push(attempt);
        throw new Error('lost the race');
      },
      {
        maxAttempts: Number.POSITIVE_INFINITY,
        nextDelayMs: ({ attempt, attemptsLeft }) => {
          expect(attemptsLeft).toBe(Number.POSITIVE_INFINITY);
          if (attempt === 25) throw new Error('deadline');
          return 0;
        },
        sleep,
      },
    );
    await expect(result).rejects.toThrow('deadline');
    expect(attempts).toHaveLength(25);
  });

  it('ends a wait as soon as the signal aborts, without another attempt', async () => {
    const { operation, attempts } = scripted([new Error('503')], 'never');
    const shutdown = new AbortController();
    const startedAt = performance.now();
    const result = retryWith(operation, { maxAttempts: 3, nextDelayMs: () => 60_000, signal: shutdown.signal });
    setTimeout(() => shutdown.abort(), 20);
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - startedAt).toBeLessThan(5000);
    expect(attempts).toEqual([1]);
  });

  it('hands the signal to a given sleep', async () => {
    const { operation } = scripted([new Error('503')], 'ok');
    const shutdown = new AbortController();
    const given: (AbortSignal | undefined)[] = [];
    await retryWith(operation, {
      maxAttempts: 2,
      nextDelayMs: () => 5,
      signal: shutdown.signal,
      sleep: async (_delayMs, signal) => void given.push(signal),
    });
    expect(given).toEqual([shutdown.signal]);
  });

  it('keeps the result of an attempt that succeeded while the signal was aborted', async () => {
    const shutdown = new AbortController();
    const result = await retryWith(
      async () => {
        shutdown.abort();
        return 'finished anyway';
      },
      { maxAttempts: 3, nextDelayMs: () => 0, signal: shutdown.signal },
    );
    expect(result).toBe('finished anyway');
  });
});

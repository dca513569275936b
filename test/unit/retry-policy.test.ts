import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../lib/lanes/backoff.js';
import { decideRetry, type RetryPolicy } from '../../worker/retry-policy.js';

const policy: RetryPolicy = { maxAttempts: 5, maxAgeMs: 60_000, baseDelayMs: 1000, settleMs: 4000 };
const transient = { kind: 'transient' as const, ambiguous: false, retryAfterMs: undefined };

describe('backoff', () => {
  it('doubles per attempt, with jitter between half and all of the step', () => {
    expect(backoffDelayMs(1, 1000, () => 0)).toBe(500);
    expect(backoffDelayMs(1, 1000, () => 0.999999)).toBe(1000);
    expect(backoffDelayMs(3, 1000, () => 0)).toBe(2000);
    expect(backoffDelayMs(4, 1000, () => 0.5)).toBe(6000);
  });
  it('is capped at five minutes', () => expect(backoffDelayMs(40, 1000, () => 0.999999)).toBe(300_000));
});

describe('deciding a retry', () => {
  it('retries a transient failure while attempts remain', () => {
    expect(decideRetry(transient, 1, 0, policy, () => 0)).toEqual({ retry: true, delayMs: 500 });
  });
  it('stops after the last attempt', () =>
    expect(decideRetry(transient, 5, 0, policy)).toEqual({ retry: false, reason: 'attempts' }));
  it('stops when the next try would pass the age limit', () =>
    expect(decideRetry(transient, 2, 59_500, policy, () => 0)).toEqual({ retry: false, reason: 'age' }));
  it('never retries a permanent failure or a second 401', () => {
    expect(decideRetry({ ...transient, kind: 'permanent' }, 1, 0, policy)).toEqual({
      retry: false,
      reason: 'permanent',
    });
    expect(decideRetry({ ...transient, kind: 'unauthorized' }, 1, 0, policy)).toEqual({
      retry: false,
      reason: 'permanent',
    });
  });
  it('waits at least Retry-After', () =>
    expect(decideRetry({ ...transient, retryAfterMs: 9000 }, 1, 0, policy, () => 0)).toEqual({
      retry: true,
      delayMs: 9000,
    }));
  it('waits what Retry-After asks, not a longer backoff, however many attempts were spent', () =>
    expect(decideRetry({ ...transient, retryAfterMs: 2000 }, 4, 0, policy, () => 0.99)).toEqual({
      retry: true,
      delayMs: 2000,
    }));
  it('after an ambiguous end waits at least the settle delay, so the next look sees a slow commit', () => {
    expect(decideRetry({ ...transient, ambiguous: true }, 1, 0, policy, () => 0)).toEqual({
      retry: true,
      delayMs: 4000,
    });
  });
  it('after a write refused with 503 and Retry-After waits the Retry-After, not the settle delay', () => {
    const refused = { ...transient, ambiguous: true, httpStatus: 503, retryAfterMs: 2000 };
    expect(decideRetry(refused, 1, 0, policy, () => 0)).toEqual({ retry: true, delayMs: 2000 });
  });
  it('keeps the settle delay after any other ambiguous 5xx, with or without Retry-After', () => {
    for (const [httpStatus, retryAfterMs] of [
      [503, undefined],
      [504, 2000],
      [500, 1000],
    ] as const) {
      const failure = { ...transient, ambiguous: true, httpStatus, retryAfterMs };
      expect(decideRetry(failure, 1, 0, policy, () => 0)).toEqual({ retry: true, delayMs: 4000 });
    }
  });
});

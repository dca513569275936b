import { describe, expect, it } from 'vitest';
import { maxInSlidingWindow } from '../../emulator/emulator-stats.js';
import { formatRetryAfter, retryAfterValueMs } from '../../emulator/retry-after.js';
import { TenantRateWindow } from '../../emulator/tenant-rate-window.js';

const TENANT = '0c4a7f0e-1111-4222-8333-444455556666';
const OTHER = '9d1b2c3e-aaaa-4bbb-8ccc-ddddeeeeffff';

/** A clock the test moves by hand. */
function manualClock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('TenantRateWindow', () => {
  it('admits max writes per window, then says how long until the oldest leaves', () => {
    const clock = manualClock();
    const window = new TenantRateWindow({ max: 2, windowMs: 1000 }, clock.now);
    expect(window.waitMs(TENANT)).toBe(0);
    window.record(TENANT);
    clock.advance(300);
    window.record(TENANT);
    expect(window.waitMs(TENANT)).toBe(700);
    clock.advance(699);
    expect(window.waitMs(TENANT)).toBe(1);
    clock.advance(1);
    // Exactly one window after the first write its slot is free again.
    expect(window.waitMs(TENANT)).toBe(0);
  });

  it('keeps tenants apart', () => {
    const clock = manualClock();
    const window = new TenantRateWindow({ max: 1, windowMs: 1000 }, clock.now);
    window.record(TENANT);
    expect(window.waitMs(TENANT)).toBeGreaterThan(0);
    expect(window.waitMs(OTHER)).toBe(0);
  });

  it('only counts what was recorded: a refused write takes no slot', () => {
    const clock = manualClock();
    const window = new TenantRateWindow({ max: 1, windowMs: 1000 }, clock.now);
    expect(window.waitMs(TENANT)).toBe(0);
    expect(window.waitMs(TENANT)).toBe(0);
  });

  it('applies a lowered limit to writes already admitted', () => {
    const clock = manualClock();
    const window = new TenantRateWindow({ max: 3, windowMs: 1000 }, clock.now);
    for (const step of [0, 100, 100]) {
      clock.advance(step);
      window.record(TENANT);
    }
    window.setLimit({ max: 2, windowMs: 1000 });
    // For a fourth write, two of the three must leave; the second leaves 1000 ms after it came.
    expect(window.waitMs(TENANT)).toBe(900);
    window.setLimit({ max: 1, windowMs: 1000 });
    expect(window.waitMs(TENANT)).toBe(1000);
    window.setLimit(undefined);
    expect(window.waitMs(TENANT)).toBe(0);
  });
});

describe('maxInSlidingWindow', () => {
  it('counts the most times that fit in any half-open window', () => {
    expect(maxInSlidingWindow([], 1000)).toBe(0);
    expect(maxInSlidingWindow([0, 999], 1000)).toBe(2);
    // 1000 ms apart is two windows under the limiter's rule, so never more than one per window.
    expect(maxInSlidingWindow([0, 1000, 2000], 1000)).toBe(1);
    expect(maxInSlidingWindow([0, 10, 20, 1005, 1010, 1015, 1020], 1000)).toBe(4);
  });

  it('agrees with the limiter: writes it admits never exceed max in any window', () => {
    const clock = manualClock(0);
    const window = new TenantRateWindow({ max: 5, windowMs: 1000 }, clock.now);
    const admitted: number[] = [];
    for (let i = 0; i < 500; i++) {
      clock.advance(37);
      if (window.waitMs(TENANT) === 0) {
        window.record(TENANT);
        admitted.push(clock.now());
      }
    }
    expect(maxInSlidingWindow(admitted, 1000)).toBe(5);
    expect(maxInSlidingWindow(admitted, 999)).toBeLessThanOrEqual(5);
  });
});

describe('formatRetryAfter', () => {
  const wall = Date.UTC(2026, 0, 2, 3, 4, 5, 600);

  it('writes fractional seconds with milliseconds by default style', () => {
    expect(formatRetryAfter(731, 'fractional', wall)).toBe('0.731');
    expect(formatRetryAfter(1000, 'fractional', wall)).toBe('1.000');
    expect(formatRetryAfter(0.2, 'fractional', wall)).toBe('0.001');
  });

  it('rounds whole seconds up, never to 0', () => {
    expect(formatRetryAfter(731, 'seconds', wall)).toBe('1');
    expect(formatRetryAfter(1001, 'seconds', wall)).toBe('2');
    expect(formatRetryAfter(0, 'seconds', wall)).toBe('1');
  });

  it('writes an HTTP date no earlier than the end of the wait', () => {
    // 03:04:05.600 + 0.731 s = 03:04:06.331, rounded up to the next whole second.
    expect(formatRetryAfter(731, 'date', wall)).toBe('Fri, 02 Jan 2026 03:04:07 GMT');
  });

  it('leaves the header out for none', () => {
    expect(formatRetryAfter(731, 'none', wall)).toBeUndefined();
  });
});

describe('retryAfterValueMs', () => {
  const wall = Date.UTC(2026, 0, 2, 3, 4, 5, 600);

  it('reads back every format as the wait a client takes from it, rounding included', () => {
    expect(retryAfterValueMs(formatRetryAfter(731, 'fractional', wall) ?? '', wall)).toBe(731);
    expect(retryAfterValueMs(formatRetryAfter(731, 'seconds', wall) ?? '', wall)).toBe(1000);
    expect(retryAfterValueMs(formatRetryAfter(731, 'date', wall) ?? '', wall)).toBe(1400);
  });
});

import { describe, expect, it } from 'vitest';
import { FaultPlan, checkFaultRates, mulberry32 } from '../../emulator/fault-plan.js';

describe('FaultPlan', () => {
  it('never faults with no rates', () => {
    const plan = new FaultPlan({}, 1);
    expect(Array.from({ length: 100 }, () => plan.decide()).every((kind) => kind === undefined)).toBe(true);
  });

  it('always picks a kind whose rate is 1', () => {
    const plan = new FaultPlan({ commitThenReset: 1 }, 1);
    expect(new Set(Array.from({ length: 50 }, () => plan.decide()))).toEqual(new Set(['commitThenReset']));
  });

  it('repeats the same decisions for the same seed', () => {
    const rates = { serviceUnavailable: 0.2, internalError: 0.1, reset: 0.1, commitThenReset: 0.1, slowCommit: 0.1 };
    const first = new FaultPlan(rates, 42);
    const second = new FaultPlan(rates, 42);
    const run = (plan: FaultPlan) => Array.from({ length: 200 }, () => plan.decide());
    expect(run(first)).toEqual(run(second));
  });

  it('hits each rate roughly, the kinds being exclusive', () => {
    const plan = new FaultPlan({ serviceUnavailable: 0.3, slowCommit: 0.2 }, 7);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const kind = plan.decide() ?? 'none';
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    expect(counts.get('serviceUnavailable')).toBeGreaterThan(2700);
    expect(counts.get('serviceUnavailable')).toBeLessThan(3300);
    expect(counts.get('slowCommit')).toBeGreaterThan(1700);
    expect(counts.get('slowCommit')).toBeLessThan(2300);
    expect(counts.get('none')).toBeGreaterThan(4700);
  });

  it('replaces all rates at once', () => {
    const plan = new FaultPlan({ reset: 1 }, 3);
    plan.setRates({ internalError: 1 });
    expect(plan.currentRates()).toEqual({
      serviceUnavailable: 0,
      serviceUnavailableNoRetryAfter: 0,
      internalError: 1,
      badGateway: 0,
      gatewayTimeout: 0,
      reset: 0,
      commitThenReset: 0,
      slowCommit: 0,
    });
    expect(plan.decide()).toBe('internalError');
  });

  it('draws the kinds it had before 503-no-retry-after, 502 and 504 existed exactly as it did then', () => {
    // Seeded runs recorded before those kinds were added must replay: the old die, read in its old order.
    const rates = { serviceUnavailable: 0.1, internalError: 0.1, reset: 0.1, commitThenReset: 0.1, slowCommit: 0.1 };
    const random = mulberry32(9);
    const oldDecide = (): string | undefined => {
      const roll = random();
      let cumulative = 0;
      for (const [kind, rate] of Object.entries(rates)) {
        cumulative += rate;
        if (roll < cumulative) return kind;
      }
      return undefined;
    };
    const plan = new FaultPlan(rates, 9);
    for (let i = 0; i < 500; i++) expect(plan.decide()).toBe(oldDecide());
  });
});

describe('checkFaultRates', () => {
  it('refuses rates outside 0..1 and sums above 1, naming the problem', () => {
    expect(() => checkFaultRates({ reset: 1.5 })).toThrow('fault rate reset must be a number from 0 to 1');
    expect(() => checkFaultRates({ reset: -0.1 })).toThrow('fault rate reset');
    expect(() => checkFaultRates({ reset: 0.6, internalError: 0.6 })).toThrow('sum to at most 1');
  });

  it('tolerates floating-point sums that are 1 in decimal', () => {
    expect(() => checkFaultRates({ serviceUnavailable: 0.1, internalError: 0.2, reset: 0.7 })).not.toThrow();
  });
});

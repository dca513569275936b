import { describe, expect, it } from 'vitest';
import { resolveEmulatorOptions } from '../../emulator/emulator-options.js';
import { EmulatorStats, RETRY_AFTER_GRACE_MS } from '../../emulator/emulator-stats.js';
import { FixedWindow } from '../../emulator/fixed-window.js';
import { RequestFaultPlan } from '../../emulator/request-fault-plan.js';
import { TenantThrottles } from '../../emulator/tenant-throttles.js';
import { throttleAnswer } from '../../emulator/throttle-answer.js';
import { checkThrottleSpec, type ThrottleSpec } from '../../emulator/throttle-model.js';
import { TokenBucket } from '../../emulator/token-bucket.js';

const TENANT = '0c4a7f0e-1111-4222-8333-444455556666';
const OTHER = '9d1b2c3e-aaaa-4bbb-8ccc-ddddeeeeffff';

/** A clock the test moves by hand. */
function manualClock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

function spec(fields: ThrottleSpec): Required<ThrottleSpec> {
  return checkThrottleSpec(fields, 'throttle');
}

describe('token-bucket throttle model', () => {
  it('counts reads as well as writes against one bucket', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(3, 3000, clock.now);
    bucket.record(TENANT, 'read');
    bucket.record(TENANT, 'read');
    expect(bucket.waitMs(TENANT, 'write')).toBe(0);
    bucket.record(TENANT, 'write');
    // Three requests of any kind empty a bucket of 3; the next read must wait one token's refill.
    expect(bucket.waitMs(TENANT, 'read')).toBe(1000);
    expect(bucket.waitMs(OTHER, 'read')).toBe(0);
  });

  it('refills continuously at max per window, never above capacity', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(2, 1000, clock.now);
    bucket.record(TENANT, 'read');
    bucket.record(TENANT, 'read');
    expect(bucket.waitMs(TENANT, 'read')).toBe(500);
    clock.advance(200);
    expect(bucket.waitMs(TENANT, 'read')).toBe(300);
    clock.advance(300);
    expect(bucket.waitMs(TENANT, 'read')).toBe(0);
    clock.advance(60_000);
    bucket.record(TENANT, 'read');
    bucket.record(TENANT, 'read');
    expect(bucket.waitMs(TENANT, 'read')).toBeGreaterThan(0);
  });

  it('answers Retry-After in whole seconds rounded up, whatever --retry-after says', () => {
    const answer = throttleAnswer(
      { waitMs: 1001, spec: spec({ model: 'token-bucket', max: 5, windowMs: 1000 }) },
      'fractional',
    );
    // The hold a client is told of is the rounded-up wait it reads, not the exact one.
    expect(answer).toEqual({
      status: 429,
      code: 'TooManyRequests',
      headers: { 'retry-after': '2' },
      retryAfterMs: 2000,
    });
    const small = throttleAnswer({ waitMs: 40, spec: spec({ model: 'token-bucket', max: 5, windowMs: 1000 }) }, 'date');
    expect(small.headers['retry-after']).toBe('1');
  });
});

describe('fixed-window throttle model', () => {
  it('admits a burst of max writes, then answers with the time to the window end', () => {
    const clock = manualClock(0);
    const window = new FixedWindow(100, 20_000, clock.now, 0);
    clock.advance(5_000);
    for (let i = 0; i < 100; i += 1) {
      expect(window.waitMs(TENANT, 'write')).toBe(0);
      window.record(TENANT, 'write');
    }
    expect(window.waitMs(TENANT, 'write')).toBe(15_000);
    clock.advance(14_999);
    expect(window.waitMs(TENANT, 'write')).toBe(1);
    clock.advance(1);
    // A new window: the whole budget again, right after the last burst.
    expect(window.waitMs(TENANT, 'write')).toBe(0);
  });

  it('does not count reads, and aligns windows to the origin', () => {
    const clock = manualClock(1000);
    const window = new FixedWindow(1, 1000, clock.now, 500);
    window.record(TENANT, 'read');
    expect(window.waitMs(TENANT, 'write')).toBe(0);
    window.record(TENANT, 'write');
    expect(window.waitMs(TENANT, 'read')).toBe(0);
    // Windows are [500, 1500), [1500, 2500)…: from 1000 the window ends in 500 ms.
    expect(window.waitMs(TENANT, 'write')).toBe(500);
  });

  it('keeps Retry-After in the --retry-after format', () => {
    const answer = throttleAnswer(
      { waitMs: 731, spec: spec({ model: 'fixed-window', max: 1, windowMs: 1000 }) },
      'fractional',
    );
    expect(answer.headers).toEqual({ 'retry-after': '0.731' });
  });
});

describe('throttle signals', () => {
  it('429-no-retry-after answers 429 and omits the Retry-After header', () => {
    const answer = throttleAnswer(
      { waitMs: 500, spec: spec({ model: 'sliding-writes', max: 1, windowMs: 1000, signal: '429-no-retry-after' }) },
      'fractional',
    );
    expect(answer).toEqual({ status: 429, code: 'TooManyRequests', headers: {} });
  });

  it('503 answers ServiceUnavailable with Retry-After', () => {
    const answer = throttleAnswer(
      { waitMs: 2500, spec: spec({ model: 'token-bucket', max: 1, windowMs: 1000, signal: '503' }) },
      'fractional',
    );
    expect(answer).toEqual({
      status: 503,
      code: 'ServiceUnavailable',
      headers: { 'retry-after': '3' },
      retryAfterMs: 3000,
    });
  });

  it('the default 429 signal writes the wait as --retry-after says', () => {
    const answer = throttleAnswer(
      { waitMs: 700, spec: spec({ model: 'sliding-writes', max: 1, windowMs: 1000 }) },
      'fractional',
    );
    expect(answer).toEqual({
      status: 429,
      code: 'TooManyRequests',
      headers: { 'retry-after': '0.700' },
      retryAfterMs: 700,
    });
  });
});

describe('per-tenant throttles', () => {
  it('a tenant under its own model leaves other tenants on the global sliding window', () => {
    const clock = manualClock();
    const throttles = new TenantThrottles(clock.now);
    throttles.setGlobal(spec({ model: 'sliding-writes', max: 2, windowMs: 1000 }));
    throttles.setTenant(TENANT, spec({ model: 'token-bucket', max: 1, windowMs: 1000, signal: '503' }));
    throttles.record(TENANT, 'read');
    expect(throttles.check(TENANT, 'read')).toMatchObject({ waitMs: 1000, spec: { model: 'token-bucket' } });
    // The other tenant's reads pass (sliding-writes counts writes only) and it gets two writes.
    for (let i = 0; i < 5; i += 1) {
      expect(throttles.check(OTHER, 'read')).toBeUndefined();
      throttles.record(OTHER, 'read');
    }
    throttles.record(OTHER, 'write');
    throttles.record(OTHER, 'write');
    expect(throttles.check(OTHER, 'write')).toMatchObject({
      waitMs: 1000,
      spec: { model: 'sliding-writes', signal: '429' },
    });
    throttles.setTenant(TENANT, undefined);
    expect(throttles.check(TENANT, 'read')).toBeUndefined();
    expect(throttles.tenantSpecs()).toEqual({});
  });

  it('with no throttle at all every request passes', () => {
    const throttles = new TenantThrottles(manualClock().now);
    for (let i = 0; i < 1000; i += 1) throttles.record(TENANT, 'write');
    expect(throttles.check(TENANT, 'write')).toBeUndefined();
    expect(throttles.currentRateLimit()).toBeUndefined();
  });

  it('changing the global sliding limit counts the writes already admitted (as PUT rate-limit always did)', () => {
    const clock = manualClock();
    const throttles = new TenantThrottles(clock.now);
    throttles.setGlobal(spec({ model: 'sliding-writes', max: 3, windowMs: 1000 }));
    throttles.record(TENANT, 'write');
    throttles.record(TENANT, 'write');
    throttles.setGlobal(spec({ model: 'sliding-writes', max: 2, windowMs: 1000 }));
    expect(throttles.check(TENANT, 'write')?.waitMs).toBe(1000);
    expect(throttles.currentRateLimit()).toEqual({ max: 2, windowMs: 1000 });
  });
});

describe('throttle options', () => {
  it('rateLimit alone is the default sliding-writes throttle with 429', () => {
    expect(resolveEmulatorOptions({ rateLimit: { max: 5, windowMs: 1000 } }).throttle).toEqual({
      model: 'sliding-writes',
      max: 5,
      windowMs: 1000,
      signal: '429',
    });
    expect(resolveEmulatorOptions().throttle).toBeUndefined();
  });

  it('names the field that is wrong', () => {
    expect(() => resolveEmulatorOptions({ throttle: { model: 'token-bucket', max: 0, windowMs: 1000 } })).toThrow(
      /throttle\.max/,
    );
    expect(() =>
      resolveEmulatorOptions({
        tenantThrottle: { [TENANT]: { model: 'leaky' as 'token-bucket', max: 1, windowMs: 1 } },
      }),
    ).toThrow(new RegExp(`tenantThrottle\\[${TENANT}\\]\\.model`));
    expect(() =>
      resolveEmulatorOptions({ tenantThrottle: { 'not-a-guid': { model: 'fixed-window', max: 1, windowMs: 1 } } }),
    ).toThrow(/tenant id must be a GUID/);
    expect(() =>
      resolveEmulatorOptions({
        rateLimit: { max: 1, windowMs: 1 },
        throttle: { model: 'fixed-window', max: 1, windowMs: 1 },
      }),
    ).toThrow(/rateLimit and throttle/);
  });
});

describe('throttle stats', () => {
  it('count throttled requests per model per tenant', () => {
    const stats = new EmulatorStats(manualClock().now);
    stats.throttled(TENANT, 'token-bucket');
    stats.throttled(TENANT, 'token-bucket');
    stats.throttled(OTHER);
    const snapshot = stats.snapshot();
    expect(snapshot.tenants[TENANT]).toMatchObject({
      throttled: 2,
      throttledByModel: { 'sliding-writes': 0, 'token-bucket': 2, 'fixed-window': 0 },
    });
    expect(snapshot.tenants[OTHER]?.throttledByModel['sliding-writes']).toBe(1);
  });
});

describe('request fault plan (GETs and token requests)', () => {
  it('draws every kind at its rate with a seed, and nothing when all rates are 0', () => {
    const plan = new RequestFaultPlan({ badGateway: 0.5, serviceUnavailableNoRetryAfter: 0.5 }, 7);
    const drawn = new Set(Array.from({ length: 50 }, () => plan.decide()));
    expect(drawn).toEqual(new Set(['badGateway', 'serviceUnavailableNoRetryAfter']));
    plan.setRates({});
    expect(plan.decide()).toBeUndefined();
  });

  it('refuses rates that sum above 1, naming what they are', () => {
    expect(() => new RequestFaultPlan({ reset: 0.6, gatewayTimeout: 0.6 }, 1, 'read fault')).toThrow(
      /read fault rates/,
    );
  });
});

describe('sentDuringRetryAfter', () => {
  const sent = (stats: EmulatorStats, tenantId = TENANT): number =>
    stats.snapshot().tenants[tenantId]?.sentDuringRetryAfter ?? 0;

  it('counts requests that arrive while a Retry-After holds, after the 50 ms grace, and stops when it ends', () => {
    const clock = manualClock();
    const stats = new EmulatorStats(clock.now);
    stats.retryAfterGiven(TENANT, 1000, ['write']);
    clock.advance(RETRY_AFTER_GRACE_MS);
    stats.requestArrived(TENANT, 'write'); // on the wire when the answer left
    expect(sent(stats)).toBe(0);
    clock.advance(1);
    stats.requestArrived(TENANT, 'write');
    stats.requestArrived(OTHER, 'write'); // another tenant was told nothing
    expect(sent(stats)).toBe(1);
    expect(sent(stats, OTHER)).toBe(0);
    clock.advance(1000 - RETRY_AFTER_GRACE_MS - 1);
    stats.requestArrived(TENANT, 'write'); // the wait is over
    expect(sent(stats)).toBe(1);
  });

  it('counts only the kinds the refusing throttle counts', () => {
    const clock = manualClock();
    const stats = new EmulatorStats(clock.now);
    stats.retryAfterGiven(TENANT, 1000, ['write']);
    stats.retryAfterGiven(OTHER, 1000, ['read', 'write']);
    clock.advance(100);
    stats.requestArrived(TENANT, 'read');
    stats.requestArrived(OTHER, 'read');
    expect(sent(stats)).toBe(0);
    expect(sent(stats, OTHER)).toBe(1);
  });

  it('keeps an earlier, longer hold when a later answer asks for less', () => {
    const clock = manualClock();
    const stats = new EmulatorStats(clock.now);
    stats.retryAfterGiven(TENANT, 1000, ['write']);
    clock.advance(500);
    stats.retryAfterGiven(TENANT, 100, ['write']);
    // Within the grace of the second answer, but long after the first: still ignored the first.
    clock.advance(10);
    stats.requestArrived(TENANT, 'write');
    clock.advance(200);
    stats.requestArrived(TENANT, 'write');
    expect(sent(stats)).toBe(2);
  });

  it('forgets holds on clear', () => {
    const clock = manualClock();
    const stats = new EmulatorStats(clock.now);
    stats.retryAfterGiven(TENANT, 1000, ['write']);
    stats.clear();
    clock.advance(100);
    stats.requestArrived(TENANT, 'write');
    expect(sent(stats)).toBe(0);
  });
});

describe('TenantThrottles verdicts', () => {
  it('name the kinds the refusing model counts', () => {
    const clock = manualClock();
    const throttles = new TenantThrottles(clock.now);
    throttles.setGlobal(spec({ model: 'fixed-window', max: 1, windowMs: 1000 }));
    throttles.setTenant(OTHER, spec({ model: 'token-bucket', max: 1, windowMs: 1000 }));
    throttles.record(TENANT, 'write');
    throttles.record(OTHER, 'read');
    expect(throttles.check(TENANT, 'write')?.countedKinds).toEqual(['write']);
    expect(throttles.check(OTHER, 'read')?.countedKinds).toEqual(['read', 'write']);
  });
});

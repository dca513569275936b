import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../lib/graph/retry-after.js';

describe('Retry-After as Graph sends it', () => {
  const now = Date.parse('2026-11-29T10:00:00Z');
  it('reads whole seconds', () => expect(parseRetryAfter('3', now)).toBe(3000));
  it('reads fractional seconds, rounding up to the millisecond', () => {
    expect(parseRetryAfter('2.128', now)).toBe(2128);
    expect(parseRetryAfter('0.0004', now)).toBe(1);
  });
  it('reads an HTTP date relative to now', () =>
    expect(parseRetryAfter('Sun, 29 Nov 2026 10:00:07 GMT', now)).toBe(7000));
  it('treats a date in the past as no wait', () =>
    expect(parseRetryAfter('Sun, 29 Nov 2026 09:00:00 GMT', now)).toBe(0));
  it('takes the first of repeated headers', () => expect(parseRetryAfter(['1', '9'], now)).toBe(1000));
  it('returns undefined when absent or unreadable, so the caller backs off instead', () => {
    for (const v of [undefined, '', '  ', 'soon', '-1', '1e3', 'NaN']) expect(parseRetryAfter(v, now)).toBeUndefined();
  });
  it('takes a wait beyond an hour (or an endless one) for unreadable, so no lane is paused for ever', () => {
    for (const v of ['3601', '9'.repeat(400), 'Fri, 31 Dec 9999 23:59:59 GMT'])
      expect(parseRetryAfter(v, now)).toBeUndefined();
    expect(parseRetryAfter('3600', now)).toBe(3_600_000);
  });
});

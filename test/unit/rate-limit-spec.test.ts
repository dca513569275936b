import { describe, expect, it } from 'vitest';
import { parseRateLimit } from '../../lib/rate-limit-spec.js';

describe('parseRateLimit', () => {
  it.each([
    ['25/1s', { max: 25, windowMs: 1000 }],
    ['100/20s', { max: 100, windowMs: 20_000 }],
    ['5/s', { max: 5, windowMs: 1000 }],
    ['600/1m', { max: 600, windowMs: 60_000 }],
    ['10/500ms', { max: 10, windowMs: 500 }],
    ['3/1.5s', { max: 3, windowMs: 1500 }],
    [' 7 / 2s ', { max: 7, windowMs: 2000 }],
  ])('reads %j', (spec, expected) => {
    expect(parseRateLimit(spec)).toEqual(expected);
  });

  it.each([
    ['', 'expected <max>/<window>'],
    ['25', 'expected <max>/<window>'],
    ['25/1', 'expected <max>/<window>'],
    ['25/1h', 'expected <max>/<window>'],
    ['-1/1s', 'expected <max>/<window>'],
    ['1.5/1s', 'expected <max>/<window>'],
    ['abc/1s', 'expected <max>/<window>'],
    ['0/1s', 'maximum must be a positive integer'],
    ['5/0s', 'window must be at least 1ms'],
    ['5/0.1ms', 'window must be at least 1ms'],
  ])('refuses %j with a short reason', (spec, reason) => {
    expect(() => parseRateLimit(spec)).toThrow(reason);
  });

  it('throws a plain Error, so each caller wraps it in its own user-facing error', () => {
    expect(() => parseRateLimit('nope')).toThrow(Error);
  });
});

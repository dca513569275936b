import type { RetryAfterFormat } from './emulator-options.js';
import { formatRetryAfter, retryAfterValueMs } from './retry-after.js';
import type { ThrottleVerdict } from './tenant-throttles.js';

/** What a throttled Graph request is answered: status, Graph error code, and headers. */
export interface ThrottleAnswer {
  status: 429 | 503;
  code: 'TooManyRequests' | 'ServiceUnavailable';
  headers: Record<string, string>;
  /** The wait the Retry-After header tells, as the client reads it (rounding included); undefined without one. */
  retryAfterMs: number | undefined;
}

/**
 * Turns a throttle's verdict into its signal: `429` or `503` with Retry-After, or `429` without it.
 * A token bucket writes Retry-After in whole seconds, rounded up; the other models follow
 * `retryAfterFormat` (the `--retry-after` flag), as the default sliding window always has.
 */
export function throttleAnswer(
  verdict: Pick<ThrottleVerdict, 'waitMs' | 'spec'>,
  retryAfterFormat: RetryAfterFormat,
  wallClockMs: number = Date.now(),
): ThrottleAnswer {
  const format = verdict.spec.model === 'token-bucket' ? 'seconds' : retryAfterFormat;
  const value =
    verdict.spec.signal === '429-no-retry-after' ? undefined : formatRetryAfter(verdict.waitMs, format, wallClockMs);
  const headers: Record<string, string> = value === undefined ? {} : { 'retry-after': value };
  const retryAfterMs = value === undefined ? undefined : retryAfterValueMs(value, wallClockMs);
  return verdict.spec.signal === '503'
    ? { status: 503, code: 'ServiceUnavailable', headers, retryAfterMs }
    : { status: 429, code: 'TooManyRequests', headers, retryAfterMs };
}

import type { RetryAfterFormat } from './emulator-options.js';

/**
 * Writes a wait as a Retry-After value in one of the shapes Graph clients meet in the wild, or
 * undefined when the header is to be left out. Every shape rounds up, never down: a client that
 * waits exactly what it was told must find the slot free.
 */
export function formatRetryAfter(
  waitMs: number,
  format: RetryAfterFormat,
  wallClockMs: number = Date.now(),
): string | undefined {
  const wait = Math.max(1, Math.ceil(waitMs));
  switch (format) {
    case 'fractional':
      return (wait / 1000).toFixed(3);
    case 'seconds':
      return String(Math.ceil(wait / 1000));
    case 'date':
      // HTTP dates have whole seconds; round the moment up so it is never earlier than the wait.
      return new Date(Math.ceil((wallClockMs + wait) / 1000) * 1000).toUTCString();
    case 'none':
      return undefined;
  }
}

/**
 * How long a Retry-After value written by formatRetryAfter tells a client to wait, from
 * `wallClockMs` (an HTTP date is relative to it). Read back from the text rather than recomputed,
 * so the rounding each format applies is included.
 */
export function retryAfterValueMs(value: string, wallClockMs: number = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  return Math.max(0, Date.parse(value) - wallClockMs);
}

/**
 * Retry-After as Graph sends it: delta-seconds, fractional seconds (Graph's samples show `2.128`),
 * or an HTTP date (RFC 9110). Returns milliseconds to wait from `nowMs`, or undefined when absent or
 * unreadable (the caller then backs off exponentially).
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return capped(Math.ceil(Number(text) * 1000));
  // A date needs a weekday or month name; Date.parse alone would accept "12" or "1e3".
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return capped(Math.max(0, at - nowMs));
}

/**
 * The longest wait a Retry-After may impose. Graph asks for seconds to minutes; a larger value (a
 * broken proxy, "9999…9") would pause a tenant's lane for ever: "Infinity" even reaches Redis's Lua
 * as inf. Beyond this the header is taken as unreadable and the caller's own backoff applies.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

function capped(ms: number): number | undefined {
  return Number.isFinite(ms) && ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

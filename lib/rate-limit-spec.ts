/**
 * A rate limit written the way people say it: `<max>/<window>`, e.g. `25/1s`, `100/20s`, `5/s`,
 * `600/1m`, `10/500ms`. The window unit is `ms`, `s` or `m`; a window without a number (`5/s`) is one
 * unit long. Shared by the emulator's `--rate-limit` option and the `GRAPH_RATE_LIMIT` variable, so
 * both read the same words the same way.
 */
export interface RateLimit {
  /** How many requests the window admits; a positive integer. */
  max: number;
  /** The sliding window's length in milliseconds; a positive integer. */
  windowMs: number;
}

const SPEC = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m)$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Parses `<max>/<window>`; throws a plain Error with a short reason when the spec is malformed. */
export function parseRateLimit(spec: string): RateLimit {
  const match = SPEC.exec(spec.trim());
  if (!match) {
    throw new Error(`expected <max>/<window> such as 25/1s or 100/20s (window unit ms, s or m), got '${spec}'`);
  }
  const [, maxText = '', amountText, unit = ''] = match;
  const max = Number(maxText);
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new Error(`the maximum must be a positive integer, got '${maxText}'`);
  }
  const amount = amountText === undefined ? 1 : Number(amountText);
  const unitMs = UNIT_MS[unit] ?? 1;
  // Round to whole milliseconds: timers and clocks work in them, and 0.5ms windows mean nothing.
  const windowMs = Math.round(amount * unitMs);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new Error(`the window must be at least 1ms, got '${amountText ?? ''}${unit}'`);
  }
  return { max, windowMs };
}

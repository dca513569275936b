/** The longest backoff, for rows, for lane-bound calls and for a lane's pause without Retry-After (tenant-lanes.ts). */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Exponential backoff with jitter: base * 2^(attempt-1), scaled by a random factor in [0.5, 1)
 * so workers that failed together do not come back together. `attempt` counts from 1.
 */
export function backoffDelayMs(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + random() / 2));
}

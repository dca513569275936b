/**
 * Rows per second over a sliding window of samples, so the rate (and the ETA built on it) follows
 * the rollout's current pace: a lane paused for a minute shows as a falling rate, not as an average
 * diluted by everything before. Pure: the caller supplies the clock.
 */
export class RateMeter {
  private samples: { atMs: number; done: number }[] = [];

  /** @param windowMs how far back samples count (default 20 s). */
  constructor(private readonly windowMs = 20_000) {}

  /** Records how many rows had ended at `atMs`. A count that went down (a `retry`) starts over. */
  add(atMs: number, done: number): void {
    const last = this.samples.at(-1);
    if (last && done < last.done) this.samples = [];
    this.samples.push({ atMs, done });
    // Keep the newest sample at or before the window's start, so the window is always covered.
    while (this.samples.length > 2 && this.samples[1]!.atMs <= atMs - this.windowMs) this.samples.shift();
  }

  /** Rows per second, or null until two samples some time apart exist. */
  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.atMs <= first.atMs) return null;
    return ((last.done - first.done) * 1000) / (last.atMs - first.atMs);
  }

  /** Milliseconds until `remaining` rows end at the current rate, or null when it cannot be told. */
  etaMs(remaining: number): number | null {
    if (remaining <= 0) return 0;
    const rate = this.perSecond();
    return rate && rate > 0 ? (remaining / rate) * 1000 : null;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';

/** Time as the pace sees it; tests pass a fake one. */
export interface PaceClock {
  /** Milliseconds, any origin; must not go backwards. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: PaceClock = {
  now: () => performance.now(),
  sleep: (ms) => sleep(ms),
};

/**
 * A client-side pace for reads, per tenant, within one process: requests of a tenant leave at least
 * `intervalMs` apart, and none leaves while the tenant is paused (after a 429 or 503 with its
 * Retry-After). Slots are taken in call order, so concurrent readers of one tenant queue behind each
 * other instead of bursting. Much simpler than the workers' Redis lanes: a dry run is one process.
 */
export class ReadPace {
  /** Per tenant: when the next slot is free. */
  private readonly nextSlotAt = new Map<string, number>();
  /** Per tenant: no request before this. */
  private readonly pausedUntil = new Map<string, number>();

  /** `intervalMs` 0 means no spacing (pauses still apply). */
  constructor(
    private readonly intervalMs: number,
    private readonly clock: PaceClock = realClock,
  ) {
    if (!(intervalMs >= 0) || !Number.isFinite(intervalMs))
      throw new RangeError(`intervalMs must be a finite number >= 0, got ${String(intervalMs)}`);
  }

  /** Waits for the tenant's next slot and takes it. */
  async take(tenantId: string): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const at = Math.max(now, this.nextSlotAt.get(tenantId) ?? now, this.pausedUntil.get(tenantId) ?? now);
      this.nextSlotAt.set(tenantId, at + this.intervalMs);
      if (at > now) await this.clock.sleep(at - now);
      // A pause that came in while we slept (another read was throttled) holds us too; the slot we
      // had is given up and a new one taken after the pause.
      if ((this.pausedUntil.get(tenantId) ?? 0) <= this.clock.now()) return;
    }
  }

  /** Graph asked the tenant to wait: no request of it leaves before `untilMs` (on this clock). */
  pause(tenantId: string, untilMs: number): void {
    if (untilMs > (this.pausedUntil.get(tenantId) ?? 0)) this.pausedUntil.set(tenantId, untilMs);
  }
}

import { monotonicClock, type Clock } from './monotonic-clock.js';
import type { RequestKind, ThrottleModel } from './throttle-model.js';

/**
 * Intune's documented shape: at most `max` writes per fixed window of `windowMs` (100 per 20 s per app
 * per tenant), windows aligned to `originMs` (the emulator's start). A full window answers with the
 * time left until it ends, so a burst of `max` right before a boundary and another right after it both
 * pass. Reads are not counted.
 */
export class FixedWindow implements ThrottleModel {
  readonly name = 'fixed-window';
  private readonly windows = new Map<string, { index: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: Clock = monotonicClock,
    private readonly originMs: number = now(),
  ) {}

  counts(kind: RequestKind): boolean {
    return kind === 'write';
  }

  waitMs(tenantId: string, kind: RequestKind): number {
    if (kind !== 'write') return 0;
    const index = this.indexNow();
    const window = this.windows.get(tenantId);
    if (!window || window.index !== index || window.count < this.max) return 0;
    return Math.max(1, this.originMs + (index + 1) * this.windowMs - this.now());
  }

  record(tenantId: string, kind: RequestKind): void {
    if (kind !== 'write') return;
    const index = this.indexNow();
    const window = this.windows.get(tenantId);
    if (window && window.index === index) window.count += 1;
    else this.windows.set(tenantId, { index, count: 1 });
  }

  private indexNow(): number {
    return Math.floor((this.now() - this.originMs) / this.windowMs);
  }
}

import { FixedWindow } from './fixed-window.js';
import { monotonicClock, type Clock } from './monotonic-clock.js';
import { TenantRateWindow } from './tenant-rate-window.js';
import { REQUEST_KINDS, type RequestKind, type ThrottleModel, type ThrottleSpec } from './throttle-model.js';
import { TokenBucket } from './token-bucket.js';

/** A throttle that applies: its spec (signal filled in) and the model instance keeping its budget. */
interface ActiveThrottle {
  spec: Required<ThrottleSpec>;
  model: ThrottleModel;
}

/** What a throttled request is told: how long to wait, under which spec. */
export interface ThrottleVerdict {
  waitMs: number;
  spec: Required<ThrottleSpec>;
  /** The request kinds the refusing throttle counts: the ones a client should hold back while told to wait. */
  countedKinds: RequestKind[];
}

/**
 * Which throttle each tenant is under: the global one (none by default), unless the tenant has its
 * own. The global `sliding-writes` throttle keeps one TenantRateWindow for the emulator's lifetime,
 * so changing its limit at run time (PUT rate-limit) counts the writes already admitted against the
 * new limit, as before models existed. Any other change starts the new throttle with a fresh budget.
 */
export class TenantThrottles {
  private readonly sliding: TenantRateWindow;
  private global: ActiveThrottle | undefined;
  private readonly perTenant = new Map<string, ActiveThrottle>();

  constructor(
    private readonly now: Clock = monotonicClock,
    /** Where fixed windows are aligned: the emulator's start. */
    private readonly originMs: number = now(),
  ) {
    this.sliding = new TenantRateWindow(undefined, now);
  }

  /** Replaces the global throttle (undefined lifts it). Tenants with their own keep theirs. */
  setGlobal(spec: Required<ThrottleSpec> | undefined): void {
    if (spec?.model === 'sliding-writes') {
      this.sliding.setLimit({ max: spec.max, windowMs: spec.windowMs });
      this.global = { spec, model: this.sliding };
      return;
    }
    this.sliding.setLimit(undefined);
    this.global = spec && { spec, model: this.create(spec) };
  }

  /** Gives one tenant its own throttle; undefined puts it back under the global one. */
  setTenant(tenantId: string, spec: Required<ThrottleSpec> | undefined): void {
    if (spec) this.perTenant.set(tenantId, { spec, model: this.create(spec) });
    else this.perTenant.delete(tenantId);
  }

  globalSpec(): Required<ThrottleSpec> | undefined {
    return this.global?.spec;
  }

  tenantSpecs(): Record<string, Required<ThrottleSpec>> {
    return Object.fromEntries([...this.perTenant].map(([tenantId, active]) => [tenantId, active.spec]));
  }

  /** The global limit in `rateLimit` terms, when the global throttle is the default sliding window. */
  currentRateLimit(): { max: number; windowMs: number } | undefined {
    return this.global?.spec.model === 'sliding-writes' ? this.sliding.currentLimit() : undefined;
  }

  /** undefined when the request may go now, otherwise how long to wait and under which throttle. */
  check(tenantId: string, kind: RequestKind): ThrottleVerdict | undefined {
    const active = this.of(tenantId);
    if (!active) return undefined;
    const waitMs = active.model.waitMs(tenantId, kind);
    if (waitMs === 0) return undefined;
    return { waitMs, spec: active.spec, countedKinds: REQUEST_KINDS.filter((counted) => active.model.counts(counted)) };
  }

  /** Takes budget for an accepted request from the throttle the tenant is under. */
  record(tenantId: string, kind: RequestKind): void {
    this.of(tenantId)?.model.record(tenantId, kind);
  }

  /** Forgets every budget spent and every per-tenant throttle, and lifts the global one. */
  clear(): void {
    this.sliding.clear();
    this.setGlobal(undefined);
    this.perTenant.clear();
  }

  private of(tenantId: string): ActiveThrottle | undefined {
    return this.perTenant.get(tenantId) ?? this.global;
  }

  private create(spec: Required<ThrottleSpec>): ThrottleModel {
    switch (spec.model) {
      case 'sliding-writes':
        return new TenantRateWindow({ max: spec.max, windowMs: spec.windowMs }, this.now);
      case 'token-bucket':
        return new TokenBucket(spec.max, spec.windowMs, this.now);
      case 'fixed-window':
        return new FixedWindow(spec.max, spec.windowMs, this.now, this.originMs);
    }
  }
}

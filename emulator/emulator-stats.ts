import { FAULT_KINDS, REQUEST_FAULT_KINDS, type FaultKind, type RequestFaultKind } from './emulator-options.js';
import { monotonicClock, type Clock } from './monotonic-clock.js';
import { THROTTLE_MODELS, type RequestKind, type ThrottleModelName } from './throttle-model.js';

/**
 * A request that reaches the emulator this soon after a throttle answer left was already on the wire
 * when the client was told to wait: it does not count as sent during the Retry-After.
 */
export const RETRY_AFTER_GRACE_MS = 50;

/** What one tenant did to the emulator since start (or the last reset). */
export interface TenantStats {
  /** Graph writes (POST, DELETE) the emulator accepted, including commit-then-reset and slow commits. */
  writesAccepted: number;
  /** Graph GETs answered for this tenant. */
  reads: number;
  /** Requests throttled (429, or 503 under the `503` signal): writes, and reads under `token-bucket`. */
  throttled: number;
  /** `throttled`, split by the throttle model that refused. */
  throttledByModel: Record<ThrottleModelName, number>;
  /**
   * Graph requests, of a kind the refusing throttle counts, that arrived while a Retry-After that
   * throttle gave this tenant still held, more than RETRY_AFTER_GRACE_MS after that answer was sent.
   * A well-behaved client keeps it at 0.
   */
  sentDuringRetryAfter: number;
  /** Assignment POSTs that drew each fault. */
  faults: Record<FaultKind, number>;
  /** Graph GETs that drew each fault (they are not counted in `reads`). */
  readFaults: Record<RequestFaultKind, number>;
  /** Token requests that drew each fault. */
  tokenFaults: Record<RequestFaultKind, number>;
  /** Requests to this tenant's token endpoint, refused or not. */
  tokenRequests: number;
  /** Access tokens issued. */
  tokensIssued: number;
  /** With `?windowMs=`: the most accepted writes inside any window of that length. */
  maxWritesInWindow?: number;
  /** With `?windowMs=`: the most requests (GETs answered and writes accepted) inside any window of that length. */
  maxRequestsInWindow?: number;
}

export interface StatsSnapshot {
  tenants: Record<string, TenantStats>;
  /** Graph requests refused with 401 (they carry no usable tenant). */
  unauthorized: number;
  /** Token requests whose tenant was not a GUID (they belong to no tenant). */
  tokenRequestsWithoutTenant: number;
  /** Echo of `?windowMs=` when given. */
  windowMs?: number;
}

/**
 * Counters the control API reports. Accepted write times are kept in full (a monotonic millisecond
 * each) because "the client never exceeded N writes per window" can only be proven from the times,
 * not from a counter.
 */
export class EmulatorStats {
  private tenants = new Map<string, TenantStats>();
  /** Per tenant, the Retry-After holds that may still hold, `until` ascending. */
  private holds = new Map<string, RetryAfterHold[]>();
  private writeTimes = new Map<string, number[]>();
  /** Reads and accepted writes: a client whose reads share its write budget stays under the limit in this log too. */
  private requestTimes = new Map<string, number[]>();
  private unauthorized = 0;
  private tokenRequestsWithoutTenant = 0;

  constructor(private readonly now: Clock = monotonicClock) {}

  writeAccepted(tenantId: string): void {
    this.of(tenantId).writesAccepted += 1;
    const times = this.writeTimes.get(tenantId);
    if (times) times.push(this.now());
    else this.writeTimes.set(tenantId, [this.now()]);
    this.requestAt(tenantId);
  }

  read(tenantId: string): void {
    this.of(tenantId).reads += 1;
    this.requestAt(tenantId);
  }

  private requestAt(tenantId: string): void {
    const times = this.requestTimes.get(tenantId);
    if (times) times.push(this.now());
    else this.requestTimes.set(tenantId, [this.now()]);
  }

  throttled(tenantId: string, model: ThrottleModelName = 'sliding-writes'): void {
    const stats = this.of(tenantId);
    stats.throttled += 1;
    stats.throttledByModel[model] += 1;
  }

  /**
   * A throttle answer telling the tenant to wait `retryAfterMs` has just been sent; until then,
   * requests of `countedKinds` count in `sentDuringRetryAfter`.
   */
  retryAfterGiven(tenantId: string, retryAfterMs: number, countedKinds: readonly RequestKind[]): void {
    const sentAt = this.now();
    const hold: RetryAfterHold = { sentAt, until: sentAt + retryAfterMs, countedKinds };
    const holds = this.holds.get(tenantId) ?? [];
    // An earlier hold over the same kinds lasting at least as long covers every moment this one would.
    const covered = holds.some(
      (earlier) => earlier.until >= hold.until && sameKinds(earlier.countedKinds, hold.countedKinds),
    );
    if (covered) return;
    holds.push(hold);
    holds.sort((a, b) => a.until - b.until);
    this.holds.set(tenantId, holds);
  }

  /** A Graph request of `kind` from the tenant has just arrived (before any added latency). */
  requestArrived(tenantId: string, kind: RequestKind): void {
    const holds = this.holds.get(tenantId);
    if (!holds) return;
    const at = this.now();
    // Requests are checked as they arrive, so a hold over by now is over for every later request too.
    while (holds.length > 0 && (holds[0]?.until ?? 0) <= at) holds.shift();
    if (holds.length === 0) {
      this.holds.delete(tenantId);
      return;
    }
    const ignored = holds.some((hold) => at - hold.sentAt > RETRY_AFTER_GRACE_MS && hold.countedKinds.includes(kind));
    if (ignored) this.of(tenantId).sentDuringRetryAfter += 1;
  }

  readFault(tenantId: string, kind: RequestFaultKind): void {
    this.of(tenantId).readFaults[kind] += 1;
  }

  tokenFault(tenantId: string, kind: RequestFaultKind): void {
    this.of(tenantId).tokenFaults[kind] += 1;
  }

  fault(tenantId: string, kind: FaultKind): void {
    this.of(tenantId).faults[kind] += 1;
  }

  tokenRequest(tenantId: string | undefined): void {
    if (tenantId === undefined) this.tokenRequestsWithoutTenant += 1;
    else this.of(tenantId).tokenRequests += 1;
  }

  tokenIssued(tenantId: string): void {
    this.of(tenantId).tokensIssued += 1;
  }

  unauthorizedRequest(): void {
    this.unauthorized += 1;
  }

  snapshot(windowMs?: number): StatsSnapshot {
    const tenants: Record<string, TenantStats> = {};
    for (const [tenantId, stats] of this.tenants) {
      const copy: TenantStats = {
        ...stats,
        throttledByModel: { ...stats.throttledByModel },
        faults: { ...stats.faults },
        readFaults: { ...stats.readFaults },
        tokenFaults: { ...stats.tokenFaults },
      };
      if (windowMs !== undefined) {
        copy.maxWritesInWindow = maxInSlidingWindow(this.writeTimes.get(tenantId) ?? [], windowMs);
        copy.maxRequestsInWindow = maxInSlidingWindow(this.requestTimes.get(tenantId) ?? [], windowMs);
      }
      tenants[tenantId] = copy;
    }
    const snapshot: StatsSnapshot = {
      tenants,
      unauthorized: this.unauthorized,
      tokenRequestsWithoutTenant: this.tokenRequestsWithoutTenant,
    };
    if (windowMs !== undefined) snapshot.windowMs = windowMs;
    return snapshot;
  }

  clear(): void {
    this.tenants = new Map();
    this.holds = new Map();
    this.writeTimes = new Map();
    this.requestTimes = new Map();
    this.unauthorized = 0;
    this.tokenRequestsWithoutTenant = 0;
  }

  private of(tenantId: string): TenantStats {
    let stats = this.tenants.get(tenantId);
    if (!stats) {
      const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
      stats = {
        writesAccepted: 0,
        reads: 0,
        throttled: 0,
        throttledByModel: zeroes(THROTTLE_MODELS),
        sentDuringRetryAfter: 0,
        faults,
        readFaults: zeroes(REQUEST_FAULT_KINDS),
        tokenFaults: zeroes(REQUEST_FAULT_KINDS),
        tokenRequests: 0,
        tokensIssued: 0,
      };
      this.tenants.set(tenantId, stats);
    }
    return stats;
  }
}

/** A Retry-After a throttle answer gave: sent at `sentAt`, holding until `until`, over `countedKinds`. */
interface RetryAfterHold {
  sentAt: number;
  until: number;
  countedKinds: readonly RequestKind[];
}

function sameKinds(a: readonly RequestKind[], b: readonly RequestKind[]): boolean {
  return a.length === b.length && a.every((kind) => b.includes(kind));
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

/**
 * The largest number of times (ascending) that fit in a half-open window of `windowMs`, i.e. with
 * last - first < windowMs. That is the same rule the emulator's limiter admits by, so a client that
 * respects a limit of N per window never scores above N here.
 */
export function maxInSlidingWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let first = 0;
  for (let last = 0; last < times.length; last += 1) {
    const lastTime = times[last] ?? 0;
    while ((times[first] ?? 0) <= lastTime - windowMs) first += 1;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

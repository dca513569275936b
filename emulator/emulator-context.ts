import type { RetryAfterFormat } from './emulator-options.js';
import type { EmulatorState } from './emulator-state.js';
import type { EmulatorStats } from './emulator-stats.js';
import type { FaultPlan } from './fault-plan.js';
import type { RequestFaultPlan } from './request-fault-plan.js';
import type { TenantThrottles } from './tenant-throttles.js';
import type { TokenService } from './token-service.js';

/**
 * Everything the route handlers share: the truth, the counters, the behaviour switches, and the
 * timers of commits that are still to land. One per running emulator; nothing is module-global, so
 * several emulators can run in one process (tests do).
 */
export interface EmulatorContext {
  /** `https://host:port`, the base of every absolute URL the emulator hands out. */
  origin: string;
  state: EmulatorState;
  stats: EmulatorStats;
  /** The global and per-tenant throttles. */
  throttles: TenantThrottles;
  faultPlan: FaultPlan;
  /** The fault die for Graph GETs. */
  readFaultPlan: RequestFaultPlan;
  /** The fault die for token requests. */
  tokenFaultPlan: RequestFaultPlan;
  tokens: TokenService;
  settings: {
    retryAfterFormat: RetryAfterFormat;
    latencyMs: number;
    /** What a `serviceUnavailable` fault's Retry-After asks for. */
    faultRetryAfterMs: number;
    slowCommitMs: number;
    pageSize: number;
    clientSecret: string | undefined;
    /** While true the token endpoint answers 503. */
    tokenOutage: boolean;
  };
  /** Slow commits not yet applied; cleared on reset and close so none lands afterwards. */
  pendingCommits: Set<NodeJS.Timeout>;
}

/** Runs `commit` after `delayMs` unless the emulator is reset or closed first. */
export function scheduleCommit(context: EmulatorContext, delayMs: number, commit: () => void): void {
  const timer = setTimeout(() => {
    context.pendingCommits.delete(timer);
    commit();
  }, delayMs);
  context.pendingCommits.add(timer);
}

export function cancelPendingCommits(context: EmulatorContext): void {
  for (const timer of context.pendingCommits) clearTimeout(timer);
  context.pendingCommits.clear();
}

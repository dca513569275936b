import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RateLimit } from '../rate-limit-spec.js';
import { lanePacing, type LanePacing } from './lane-pacing.js';
import { MAX_BACKOFF_MS } from './backoff.js';
import { laneAdmit, laneRelease, laneThrottled, type LaneKeys } from './lane-scripts.js';

/**
 * `logged`: the send is in the lane's schedule (the lane is bound), so a late answer re-dates it.
 * `markerTaken`: refused because an exclusive marker belongs to someone else (see AdmitOptions).
 */
export type Admission =
  | { granted: true; at: number; count: number; logged: boolean }
  | { granted: false; at: number; count: number; markerTaken?: boolean };

export interface AdmitOptions {
  /** Who holds a reservation: the job id (a job re-asking for its lane finds its slot again). */
  owner: string;
  /**
   * Set this marker atomically with the grant (the `sent` mark of a POST); the grant time is appended
   * to `value`. `exclusive`: grant only while the marker is absent or starts with `value` (this row's
   * own earlier request); otherwise the admission comes back `markerTaken`.
   */
  marker?: { key: string; value: string; ttlMs: number; exclusive?: boolean };
  /** Count the grant in this hash field (a row's requests, for its outcome's `attempts`). */
  countIn?: { key: string; field: string; ttlMs: number };
  /**
   * Go ahead of the slots already promised: the earliest time the pause, the lane's spacing among
   * such requests and (with a configured limit) the window allow; the schedule's end moves back one
   * slot for each. For the few requests many rows wait on (a configuration's listing); a promised row
   * that then finds the window full takes the next free moment, a slot later.
   */
  ahead?: boolean;
}

/**
 * Tenant lanes: the per-tenant request budget shared by every worker process, kept in Redis.
 *
 * Why not BullMQ's limiter: it is one counter per queue, and `queue.rateLimit` pauses every tenant;
 * open-source BullMQ has no per-group limits. So each Graph request asks its tenant's lane first.
 *
 * A lane's budget is `max` sends in any window: GRAPH_RATE_LIMIT, or, without it, what the lane
 * learned from Graph's throttling answers (none yet: unbound). The budget's burst goes at once; a
 * request that cannot go now gets a promised slot `max` per window further on and comes back then
 * (its job waits in BullMQ's delayed set, holding no worker), so a backlog of thousands of rows
 * spreads over time instead of stampeding each time a slot frees. No window ever holds more than
 * `max` sends, however Graph aligns its windows. A throttling answer pauses the lane until
 * Retry-After and, without a configured limit, measures the budget again; a learned budget probes
 * upwards while Graph stays quiet. Each step is one Lua script, atomic across workers:
 * lane-admit-4.lua, lane-throttled-2.lua, lane-release-2.lua.
 */
export class TenantLanes {
  private readonly pacing: LanePacing;
  /** Accepted answers per tenant not yet told to the lane: they ride on its next admission. */
  private readonly acceptedSince = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    rateLimit: RateLimit | undefined,
  ) {
    this.pacing = lanePacing(rateLimit);
  }

  private laneKeys(tenantId: string): LaneKeys {
    return { lane: this.keys.lane(tenantId), schedule: this.keys.laneSchedule(tenantId) };
  }

  /**
   * Graph accepted a request of this tenant. A learning lane measures its budget by what Graph took;
   * the count is told with the tenant's next admission, which costs no Redis call of its own.
   */
  accepted(tenantId: string): void {
    if (this.pacing.max > 0) return;
    this.acceptedSince.set(tenantId, (this.acceptedSince.get(tenantId) ?? 0) + 1);
  }

  private takeAccepted(tenantId: string): number {
    const n = this.acceptedSince.get(tenantId) ?? 0;
    if (n > 0) this.acceptedSince.delete(tenantId);
    return n;
  }

  /** Ask for a send slot now. `at` is when to come back when not granted. */
  async admit(tenantId: string, options: AdmitOptions, nowMs = Date.now()): Promise<Admission> {
    const p = this.pacing;
    const [granted, at, count, logged] = await laneAdmit(
      this.redis,
      { ...this.laneKeys(tenantId), marker: options.marker?.key, count: options.countIn?.key },
      {
        nowMs,
        owner: options.owner,
        max: p.max,
        windowMs: p.windowMs,
        toleranceMs: p.toleranceMs,
        markerValue: options.marker?.value,
        markerTtlMs: options.marker?.ttlMs,
        holdMs: p.holdMs,
        halvingMs: p.halvingMs,
        countField: options.countIn?.field,
        countTtlMs: options.countIn?.ttlMs,
        ahead: options.ahead,
        exclusiveMarker: options.marker?.exclusive,
        keepMs: p.keepMs,
        // GRAPH_RATE_LIMIT budgets writes, as Intune does (100 writes per 20 s; reads have ten times
        // that). A learned budget counts every request: some Graph services count reads too.
        counted: !(p.max > 0) || options.marker !== undefined,
        accepted: this.takeAccepted(tenantId),
      },
    );
    if (granted === 1) return { granted: true, at: Number(at), count: Number(count ?? 0), logged: logged === 1 };
    return { granted: false, at: Number(at), count: 0, ...(granted === 2 ? { markerTaken: true } : {}) };
  }

  /**
   * Report a throttling answer to the request granted at `sentAtMs`; returns when the lane opens
   * again. Without Retry-After
   * (`retryAfterMs` undefined) the lane backs off from `baseDelayMs`, doubling per burst, scaled by
   * a random factor in [0.5, 1).
   */
  async throttled(
    tenantId: string,
    retryAfterMs: number | undefined,
    sentAtMs: number,
    nowMs = Date.now(),
    options: { baseDelayMs?: number; random?: () => number } = {},
  ): Promise<number> {
    const p = this.pacing;
    const until = await laneThrottled(this.redis, this.laneKeys(tenantId), {
      nowMs,
      retryAfterMs,
      adaptive: !(p.max > 0),
      sentAtMs,
      estimateMargin: p.estimateMargin,
      minSendsToLearn: p.minSendsToLearn,
      maxLearnedWindowMs: p.maxLearnedWindowMs,
      baseDelayMs: options.baseDelayMs ?? 1000,
      random: (options.random ?? Math.random)(),
      maxBackoffMs: MAX_BACKOFF_MS,
      holdMs: p.holdMs,
      halvingMs: p.halvingMs,
      accepted: this.takeAccepted(tenantId),
    });
    return Number(until);
  }

  /** Give back the slots promised to these owners (jobs removed by a cancel). */
  async release(tenantId: string, owners: readonly string[]): Promise<void> {
    if (owners.length === 0) return;
    await laneRelease(this.redis, this.laneKeys(tenantId), owners);
  }

  /** Re-date a send in the lane's schedule to when it really left (see LaneBoundGraph). */
  async sentLate(tenantId: string, owner: string, grantedAt: number, leftAt: number): Promise<void> {
    await this.redis.zadd(this.keys.laneSchedule(tenantId), 'XX', leftAt, `${owner}@${grantedAt}`);
  }

  /**
   * The lane's state for status displays: paused until when, and its budget (configured or
   * learned, before any speed-up; max 0: none, unbound) with the average spacing it allows.
   */
  async state(tenantId: string): Promise<{ pausedUntil: number; max: number; windowMs: number; intervalMs: number }> {
    const [paused, learnedMax, learnedWindow] = await this.redis.hmget(
      this.keys.lane(tenantId),
      'pausedUntil',
      'max',
      'window',
    );
    const configured = this.pacing.max > 0;
    const max = configured ? this.pacing.max : Number(learnedMax ?? 0) || 0;
    const windowMs = configured ? this.pacing.windowMs : Number(learnedWindow ?? 0) || 0;
    return { pausedUntil: Number(paused ?? 0) || 0, max, windowMs, intervalMs: max > 0 ? windowMs / max : 0 };
  }
}

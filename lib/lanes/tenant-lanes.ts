import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RateLimit } from '../rate-limit-spec.js';
import { lanePacing, type LanePacing } from './lane-pacing.js';
import { MAX_BACKOFF_MS } from './backoff.js';
import { laneAdmit, laneRelease, laneThrottled } from './lane-scripts.js';

/**
 * `seq`: a grant's number among the lane's sends since it last resumed (0 when not granted).
 * `markerTaken`: refused because an exclusive marker belongs to someone else (see AdmitOptions).
 */
export type Admission =
  | { granted: true; at: number; count: number; seq: number }
  | { granted: false; at: number; count: number; seq: number; markerTaken?: boolean };

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
 * A lane hands out send slots spaced `interval` apart (a virtual schedule, like GCRA). A request that
 * cannot go now gets a reservation for a future slot and comes back then (its job waits in BullMQ's
 * delayed set, holding no worker), so a backlog of thousands of rows spreads over time instead of
 * stampeding each time a slot frees. With GRAPH_RATE_LIMIT set, a sliding log of send times is the
 * hard bound: never more than `max` sends in any window. A 429/503 pauses the lane for Retry-After;
 * without a configured limit the lane learns its interval from those answers. Each step is one Lua
 * script, atomic across workers: lane-admit-5.lua, lane-throttled-2.lua, lane-release-2.lua.
 */
export class TenantLanes {
  private readonly pacing: LanePacing;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    rateLimit: RateLimit | undefined,
  ) {
    this.pacing = lanePacing(rateLimit);
  }

  /** Ask for a send slot now. `at` is when to come back when not granted. */
  async admit(tenantId: string, options: AdmitOptions, nowMs = Date.now()): Promise<Admission> {
    const p = this.pacing;
    const k = this.keys;
    const [granted, at, count, seq] = await laneAdmit(
      this.redis,
      {
        lane: k.lane(tenantId),
        reservations: k.laneReservations(tenantId),
        sends: k.laneSends(tenantId),
        marker: options.marker?.key,
        count: options.countIn?.key,
      },
      {
        nowMs,
        owner: options.owner,
        max: p.max,
        windowMs: p.windowMs,
        intervalMs: p.intervalMs,
        toleranceMs: p.toleranceMs,
        markerValue: options.marker?.value,
        markerTtlMs: options.marker?.ttlMs,
        quietBeforeSpeedupMs: p.quietBeforeSpeedupMs,
        speedupFactor: p.speedupFactor,
        countField: options.countIn?.field,
        countTtlMs: options.countIn?.ttlMs,
        ahead: options.ahead,
        exclusiveMarker: options.marker?.exclusive,
      },
    );
    if (granted === 1) return { granted: true, at: Number(at), count: Number(count ?? 0), seq: Number(seq ?? 0) };
    return { granted: false, at: Number(at), count: 0, seq: 0, ...(granted === 2 ? { markerTaken: true } : {}) };
  }

  /**
   * Report a throttling answer to the request granted at `sentAtMs` (as the `seq`-th send since the
   * lane resumed, when known); returns when the lane opens again. Without Retry-After
   * (`retryAfterMs` undefined) the lane backs off from `baseDelayMs`, doubling per burst, scaled by
   * a random factor in [0.5, 1).
   */
  async throttled(
    tenantId: string,
    retryAfterMs: number | undefined,
    sentAtMs: number,
    nowMs = Date.now(),
    options: { baseDelayMs?: number; random?: () => number; seq?: number } = {},
  ): Promise<number> {
    const p = this.pacing;
    const until = await laneThrottled(
      this.redis,
      { lane: this.keys.lane(tenantId), reservations: this.keys.laneReservations(tenantId) },
      {
        nowMs,
        retryAfterMs,
        adaptive: !(p.max > 0),
        sentAtMs,
        slowdownFactor: p.slowdownFactor,
        estimateMargin: p.estimateMargin,
        minLearnedIntervalMs: p.minLearnedIntervalMs,
        minSendsToLearn: p.minSendsToLearn,
        firstGuessIntervalMs: p.firstGuessIntervalMs,
        maxLearnedIntervalMs: p.maxLearnedIntervalMs,
        minSlowdownFactor: p.minSlowdownFactor,
        baseDelayMs: options.baseDelayMs ?? 1000,
        random: (options.random ?? Math.random)(),
        seq: options.seq ?? 0,
        maxBackoffMs: MAX_BACKOFF_MS,
      },
    );
    return Number(until);
  }

  /** Give back the slots promised to these owners (jobs removed by a cancel). */
  async release(tenantId: string, owners: readonly string[]): Promise<void> {
    if (owners.length === 0) return;
    await laneRelease(
      this.redis,
      { lane: this.keys.lane(tenantId), reservations: this.keys.laneReservations(tenantId) },
      { intervalMs: this.pacing.max > 0 ? this.pacing.intervalMs : undefined, owners },
    );
  }

  /** Re-date a send in the window log to when it really left (see LaneBoundGraph). */
  async sentLate(tenantId: string, owner: string, grantedAt: number, leftAt: number): Promise<void> {
    if (this.pacing.max <= 0) return;
    await this.redis.zadd(this.keys.laneSends(tenantId), 'XX', leftAt, `${owner}@${grantedAt}`);
  }

  /** The lane's state for status displays: paused until when, learned interval. */
  async state(tenantId: string): Promise<{ pausedUntil: number; intervalMs: number }> {
    const [paused, interval] = await this.redis.hmget(this.keys.lane(tenantId), 'pausedUntil', 'interval');
    return {
      pausedUntil: Number(paused ?? 0) || 0,
      intervalMs: this.pacing.max > 0 ? this.pacing.intervalMs : Number(interval ?? 0) || 0,
    };
  }
}

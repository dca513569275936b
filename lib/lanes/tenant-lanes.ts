import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RateLimit } from '../rate-limit-spec.js';
import { lanePacing, type LanePacing } from './lane-pacing.js';
import { MAX_BACKOFF_MS } from './backoff.js';

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
 * without a configured limit the lane learns its interval from those answers.
 */
const ADMIT = `
local now = tonumber(ARGV[1])
local owner = ARGV[2]
local max = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local interval = tonumber(ARGV[5])
local tolerance = tonumber(ARGV[6])
local markerTtl = tonumber(ARGV[8])
local lane = redis.call('HMGET', KEYS[1], 'tat', 'pausedUntil', 'interval', 'lastThrottleAt', 'aheadTat')
local tat = tonumber(lane[1]) or 0
local paused = tonumber(lane[2]) or 0
local adaptive = max <= 0
if adaptive then interval = tonumber(lane[3]) or 0 end

if ARGV[14] == '1' then
  -- an exclusive marker: another rollout's POST of this triple was granted (or ended, or found it
  -- assigned) since this row last looked: no grant; the row looks again
  local current = redis.call('GET', KEYS[4])
  if current and string.sub(current, 1, #ARGV[7]) ~= ARGV[7] then
    redis.call('ZREM', KEYS[2], owner)
    return {2, now, 0, 0}
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 600000)
local slot = tonumber(redis.call('ZSCORE', KEYS[2], owner))
if slot and paused > now then
  -- the lane was paused after this slot was promised: take a new place after the pause
  redis.call('ZREM', KEYS[2], owner)
  slot = nil
end
local ahead = ARGV[13] == '1'
if slot and ahead and slot > math.max(now, paused, tonumber(lane[5]) or 0) then
  -- promised a later slot for another request of this job (its POST): this one goes ahead. A slot
  -- promised to this request going ahead is never later than that, and is kept.
  redis.call('ZREM', KEYS[2], owner)
  slot = nil
end
if not slot then
  if ahead then
    -- requests going ahead keep the lane's spacing among themselves, and the schedule's end moves
    -- back one slot to make room for each
    slot = math.max(now, paused, tonumber(lane[5]) or 0)
    if interval > 0 then redis.call('HSET', KEYS[1], 'aheadTat', slot + interval, 'tat', math.max(tat, now) + interval) end
  else
    slot = math.max(now, tat, paused)
    redis.call('HSET', KEYS[1], 'tat', slot + interval)
  end
end
if slot > now + tolerance then
  redis.call('ZADD', KEYS[2], slot, owner)
  return {0, slot}
end
if not adaptive then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[3])
  if n >= max then
    local oldest = redis.call('ZRANGE', KEYS[3], n - max, n - max, 'WITHSCORES')
    local free = tonumber(oldest[2]) + window
    redis.call('ZADD', KEYS[2], free, owner)
    if free + interval > tat then redis.call('HSET', KEYS[1], 'tat', free + interval) end
    return {0, free}
  end
  redis.call('ZADD', KEYS[3], now, owner .. '@' .. now)
  redis.call('PEXPIRE', KEYS[3], window * 2)
end
redis.call('ZREM', KEYS[2], owner)
if paused > 0 then
  -- first send after a pause: start counting what the tenant accepts from here
  redis.call('HSET', KEYS[1], 'pausedUntil', 0, 'resumedAt', now, 'sentSinceResume', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'sentSinceResume', 1)
if adaptive and interval > 0 then
  local last = tonumber(lane[4]) or 0
  if now - last > tonumber(ARGV[9]) then
    -- quiet for a while: speed up a little (additive increase, in rate terms)
    local faster = interval * tonumber(ARGV[10])
    if faster < 1 then faster = 0 end
    redis.call('HSET', KEYS[1], 'interval', faster)
  end
end
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7] .. now, 'PX', markerTtl) end
local count = 0
if ARGV[11] ~= '' then
  count = redis.call('HINCRBY', KEYS[5], ARGV[11], 1)
  redis.call('PEXPIRE', KEYS[5], ARGV[12])
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return {1, now, count, seq}
`;

/**
 * A 429 or 503: pause the lane until Retry-After and, when learning, slow it down. Several in-flight
 * requests of the same burst come back throttled; only the first adapts the interval.
 *
 * Without Retry-After (Intune often leaves it out) the pause backs off exponentially per burst, not
 * per answer: the 7 answers of one burst of 32 requests are one signal, and counting them one by one
 * would pause the lane for a minute after its first burst and teach it a pace 60 times too slow. The
 * streak restarts when the lane got some sends through since it last resumed.
 */
const THROTTLED = `
local now = tonumber(ARGV[1])
local adaptive = ARGV[3] == '1'
local sentAt = tonumber(ARGV[4])
local lane = redis.call('HMGET', KEYS[1], 'pausedUntil', 'tat', 'interval', 'lastAdaptAt', 'resumedAt', 'sentSinceResume', 'streak')
local paused = tonumber(lane[1]) or 0
-- What Graph accepted before it throttled: the sends granted before the throttled one since the
-- lane last resumed (its grant's sequence number less one). Requests granted after it were still
-- in flight and mostly come back throttled too; counting them would learn a pace too fast by the
-- lane's concurrency. Without a sequence number, every send since the lane resumed.
local sent = tonumber(lane[6]) or 0
local seq = tonumber(ARGV[14]) or 0
if seq > 0 then sent = math.min(sent, seq - 1) end
local lastAdapt = tonumber(lane[4]) or 0
-- Answers to requests sent before the last throttle are the same burst: they may lengthen the
-- pause, but only the first answer of a burst replans the lane and (when learning) slows it down.
local newBurst = sentAt >= lastAdapt
local waitMs = tonumber(ARGV[2])
if waitMs < 0 then
  local streak = tonumber(lane[7]) or 0
  if newBurst then
    if sent >= tonumber(ARGV[8]) then streak = 1 else streak = streak + 1 end
    redis.call('HSET', KEYS[1], 'streak', streak)
  end
  streak = math.max(streak, 1)
  -- backoffDelayMs (worker/retry-policy.ts) with the streak as the attempt; here because the streak
  -- has to be counted atomically with the burst
  waitMs = math.floor(math.min(tonumber(ARGV[12]) * 2 ^ (streak - 1), tonumber(ARGV[15])) * (0.5 + tonumber(ARGV[13]) / 2))
end
local untilTs = now + waitMs
if untilTs > paused then
  redis.call('HSET', KEYS[1], 'pausedUntil', untilTs)
  paused = untilTs
end
if newBurst then
  -- promised slots were planned at the old pace: every waiting row takes a new place after the pause
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'tat', paused, 'lastAdaptAt', now)
else
  local tat = tonumber(lane[2]) or 0
  if tat < paused then redis.call('HSET', KEYS[1], 'tat', paused) end
end
if adaptive then
  local interval = tonumber(lane[3]) or 0
  if newBurst and (interval == 0 or sent >= tonumber(ARGV[8])) then
    local slower
    -- Graph took 'sent' requests over the time since the lane last opened plus the wait it asks
    -- for (the first of them leaves its window then): a little under that pace is what it accepts.
    local resumedAt = tonumber(lane[5]) or sentAt
    local accepted = ((now - resumedAt) + waitMs) / math.max(sent, 1) * tonumber(ARGV[6])
    if interval == 0 then
      if sent >= tonumber(ARGV[8]) then slower = accepted else slower = tonumber(ARGV[9]) end
    else
      -- A throttle after a long run at this pace is the limit's edge: slow a little. One soon after
      -- resuming says the pace is well over: slow by up to a quarter.
      slower = math.min(math.max(accepted, interval * tonumber(ARGV[11])), interval * tonumber(ARGV[5]))
    end
    slower = math.min(math.max(slower, tonumber(ARGV[7])), tonumber(ARGV[10]))
    redis.call('HSET', KEYS[1], 'interval', slower)
  end
  redis.call('HSET', KEYS[1], 'lastThrottleAt', now)
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return paused
`;

/**
 * Rows that will never come back (cancelled) give their promised slots back: the schedule closes up
 * behind the last slot still promised, so the next rows of the tenant do not wait for ghosts.
 */
const RELEASE = `
for i = 2, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
local lane = redis.call('HMGET', KEYS[1], 'tat', 'pausedUntil', 'interval')
local tat = tonumber(lane[1]) or 0
local paused = tonumber(lane[2]) or 0
local interval = tonumber(ARGV[1])
if interval < 0 then interval = tonumber(lane[3]) or 0 end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local closed = paused
if last[2] then closed = math.max(closed, tonumber(last[2]) + interval) end
if closed < tat then redis.call('HSET', KEYS[1], 'tat', closed) end
return 1
`;

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

export class TenantLanes {
  private readonly pacing: LanePacing;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    rateLimit: RateLimit | undefined,
  ) {
    this.pacing = lanePacing(rateLimit);
    if (!('laneAdmit' in redis)) {
      redis.defineCommand('laneAdmit', { numberOfKeys: 5, lua: ADMIT });
      redis.defineCommand('laneThrottled', { numberOfKeys: 2, lua: THROTTLED });
      redis.defineCommand('laneRelease', { numberOfKeys: 2, lua: RELEASE });
    }
  }

  /** Ask for a send slot now. `at` is when to come back when not granted. */
  async admit(tenantId: string, options: AdmitOptions, nowMs = Date.now()): Promise<Admission> {
    const p = this.pacing;
    const k = this.keys;
    const [granted, at, count, seq] = await (this.redis as unknown as LaneCommands).laneAdmit(
      k.lane(tenantId),
      k.laneReservations(tenantId),
      k.laneSends(tenantId),
      options.marker?.key ?? k.lane(tenantId),
      options.countIn?.key ?? k.lane(tenantId),
      String(nowMs),
      options.owner,
      String(p.max),
      String(p.windowMs),
      String(p.intervalMs),
      String(p.toleranceMs),
      options.marker?.value ?? '',
      String(options.marker?.ttlMs ?? 0),
      String(p.quietBeforeSpeedupMs),
      String(p.speedupFactor),
      options.countIn?.field ?? '',
      String(options.countIn?.ttlMs ?? 0),
      options.ahead ? '1' : '0',
      options.marker?.exclusive ? '1' : '0',
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
    const until = await (this.redis as unknown as LaneCommands).laneThrottled(
      this.keys.lane(tenantId),
      this.keys.laneReservations(tenantId),
      String(nowMs),
      retryAfterMs === undefined ? '-1' : String(Math.max(0, Math.round(retryAfterMs))),
      p.max > 0 ? '0' : '1',
      String(sentAtMs),
      String(p.slowdownFactor),
      String(p.estimateMargin),
      String(p.minLearnedIntervalMs),
      String(p.minSendsToLearn),
      String(p.firstGuessIntervalMs),
      String(p.maxLearnedIntervalMs),
      String(p.minSlowdownFactor),
      String(options.baseDelayMs ?? 1000),
      String((options.random ?? Math.random)()),
      String(options.seq ?? 0),
      String(MAX_BACKOFF_MS),
    );
    return Number(until);
  }

  /** Give back the slots promised to these owners (jobs removed by a cancel). */
  async release(tenantId: string, owners: readonly string[]): Promise<void> {
    if (owners.length === 0) return;
    const interval = this.pacing.max > 0 ? this.pacing.intervalMs : -1;
    await (this.redis as unknown as LaneCommands).laneRelease(this.keys.lane(tenantId), this.keys.laneReservations(tenantId), String(interval), ...owners);
  }

  /** Re-date a send in the window log to when it really left (see LaneBoundGraph). */
  async sentLate(tenantId: string, owner: string, grantedAt: number, leftAt: number): Promise<void> {
    if (this.pacing.max <= 0) return;
    await this.redis.zadd(this.keys.laneSends(tenantId), 'XX', leftAt, `${owner}@${grantedAt}`);
  }

  /** The lane's state for status displays: paused until when, learned interval. */
  async state(tenantId: string): Promise<{ pausedUntil: number; intervalMs: number }> {
    const [paused, interval] = await this.redis.hmget(this.keys.lane(tenantId), 'pausedUntil', 'interval');
    return { pausedUntil: Number(paused ?? 0) || 0, intervalMs: this.pacing.max > 0 ? this.pacing.intervalMs : Number(interval ?? 0) || 0 };
  }
}

interface LaneCommands {
  laneAdmit(...args: string[]): Promise<[number, number | string, number?, number?]>;
  laneThrottled(...args: string[]): Promise<number | string>;
  laneRelease(...args: string[]): Promise<number>;
}

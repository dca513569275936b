--[[
  Admit a request to its tenant's lane: grant a send slot now, or promise a future one.

  A lane hands out send slots spaced `interval` apart (a virtual schedule, like GCRA). A request
  that cannot go now gets a reservation for a future slot and comes back then (its job waits in
  BullMQ's delayed set, holding no worker), so a backlog of thousands of rows spreads over time
  instead of stampeding each time a slot frees. With GRAPH_RATE_LIMIT set, a sliding log of send
  times is the hard bound: never more than `max` sends in any window. Without it (max 0) the lane
  uses the interval it learned from throttling answers (lane-throttled-2.lua).

  A POST's `sent` marker is written in the same call as its grant, so no POST leaves without it, and
  an exclusive grant is refused while another rollout's marker holds the triple (docs/architecture.md,
  "Exactly once").

    Input:
      KEYS[1] lane hash (tat, pausedUntil, interval, lastThrottleAt, aheadTat, resumedAt, sentSinceResume)
      KEYS[2] lane reservations (sorted set: owner -> promised slot, ms)
      KEYS[3] lane sends (sorted set: the window's send log, `owner@grantMs` -> sent at, ms)
      KEYS[4] row marker (string) to set with the grant; KEYS[1] when there is none (not touched)
      KEYS[5] hash counting the grant (a rollout's attempts); KEYS[1] when there is none (not touched)

      ARGV[1] nowMs
      ARGV[2] owner: who holds a reservation (the job id)
      ARGV[3] max: sends per window; 0 = no configured limit, the lane learns its interval
      ARGV[4] windowMs
      ARGV[5] intervalMs between slots (with a configured limit; the learned one is used otherwise)
      ARGV[6] toleranceMs: a slot this close ahead counts as now
      ARGV[7] markerValue, the grant time is appended to it; '' = no marker
      ARGV[8] markerTtlMs
      ARGV[9] quietBeforeSpeedupMs: learning, no throttle for this long and the lane speeds up...
      ARGV[10] speedupFactor: ...by this factor on its interval per send
      ARGV[11] countField in KEYS[5]; '' = no count
      ARGV[12] countTtlMs
      ARGV[13] ahead: '1' = go ahead of the slots already promised (see AdmitOptions.ahead)
      ARGV[14] exclusiveMarker: '1' = grant only while KEYS[4] is absent or starts with ARGV[7]

    Output:
      {1, nowMs, count, seq}  granted: count = the grant's count in KEYS[5] (0 without one),
                              seq = its number among the lane's sends since it last resumed
      {0, atMs}               not granted: come back at atMs (a promised slot, or when the window frees)
      {2, nowMs, 0, 0}        not granted: the exclusive marker belongs to someone else
      (Redis truncates the Lua numbers to integers.)
]]
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

--[[
  Admit a request to its tenant's lane: grant a send slot now, or promise a future one.

  A lane holds a budget of `max` sends in any `window` (GRAPH_RATE_LIMIT, or what it learned from
  Graph's throttling answers in lane-throttled-2.lua; none learned yet = no bound). The lane's
  schedule is one sorted set of sends (`owner@grantMs`, scored by when they left) and promised slots
  (`owner`, scored by the slot). A new request is planned at the end of the schedule: at once while
  fewer than `max` entries are in it, else one window after the `max`-th latest entry. So a budget's
  burst goes at once, and a backlog of thousands of rows gets promised slots `max` per window (its
  jobs wait in BullMQ's delayed set, holding no worker) instead of stampeding each time a slot frees.
  Planning never promises more than `max` in any window; the grant checks it again against what really
  went (a request going ahead, a row coming back late), so no window ever holds more than `max` sends.

  A learned budget speeds up while Graph stays quiet: after `holdMs` without a throttle its rate
  doubles every `halvingMs`, half as a bigger burst and half as a shorter window (a probe, which the
  next throttle takes back: lane-throttled-2.lua), and once the window is shorter than a millisecond
  per send the lane is unbound.

  A POST's `sent` marker is written in the same call as its grant, so no POST leaves without it, and
  an exclusive grant is refused while another rollout's marker holds the triple (docs/architecture.md,
  "Exactly once").

    Input:
      KEYS[1] lane hash (pausedUntil, max, window, lastThrottleAt, resumedAt, acceptedSinceResume,
              burstMeasured)
      KEYS[2] lane schedule (sorted set: `owner@grantMs` -> sent at, `owner` -> promised slot; ms)
      KEYS[3] row marker (string) to set with the grant; KEYS[1] when there is none (not touched)
      KEYS[4] hash counting the grant (a rollout's attempts); KEYS[1] when there is none (not touched)

      ARGV[1] nowMs
      ARGV[2] owner: who holds a reservation (the job id)
      ARGV[3] max: sends per window; 0 = no configured limit, the lane's learned budget applies
      ARGV[4] windowMs (with a configured limit)
      ARGV[5] toleranceMs: a slot this close ahead counts as now
      ARGV[6] markerValue, the grant time is appended to it; '' = no marker
      ARGV[7] markerTtlMs
      ARGV[8] holdMs: a learned budget holds this long after a throttle...
      ARGV[9] halvingMs: ...then its window halves every halvingMs
      ARGV[10] countField in KEYS[4]; '' = no count
      ARGV[11] countTtlMs
      ARGV[12] ahead: '1' = go ahead of the slots already promised (see AdmitOptions.ahead)
      ARGV[13] exclusiveMarker: '1' = grant only while KEYS[3] is absent or starts with ARGV[6]
      ARGV[14] keepMs: promised slots and sends are kept at least this long after their time
      ARGV[15] counted: '1' = the request spends the budget; '0' = it only waits out a pause (a read
               under a configured limit, which budgets writes)
      ARGV[16] accepted: answers this worker saw accepted since it last told the lane (for learning)

    Output:
      {1, nowMs, count, logged}
                              granted: count = the grant's count in KEYS[4] (0 without one),
                              logged = 1 when the send is in the schedule (the lane is bound)
      {0, atMs}               not granted: come back at atMs (a promised slot, or when the window frees)
      {2, nowMs, 0, 0}        not granted: the exclusive marker belongs to someone else
      (Redis truncates the Lua numbers to integers.)
]]
local now = tonumber(ARGV[1])
local owner = ARGV[2]
local max = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local tolerance = tonumber(ARGV[5])
if tonumber(ARGV[16]) > 0 then redis.call('HINCRBY', KEYS[1], 'acceptedSinceResume', ARGV[16]) end
local lane = redis.call('HMGET', KEYS[1], 'pausedUntil', 'max', 'window', 'lastThrottleAt', 'resumedAt')
local paused = tonumber(lane[1]) or 0
-- A learned budget probes upwards while Graph stays quiet: its rate doubles every `halving`, half
-- of it as a bigger burst, half as a shorter window (a budget learned too small in either comes
-- back, and a burst too big is cut short by Graph and measured again). A slot promised for later is
-- planned with the window the lane will have by then, so a backlog speeds up with the probe.
local learnedWindow, quietFrom, halving
local function growthAt(t)
  local quiet = t - quietFrom
  if quiet <= 0 then return 1 end
  return 2 ^ (quiet / halving / 2)
end
local function windowAt(t)
  if not learnedWindow then return window end
  return learnedWindow / growthAt(t)
end
if max <= 0 then
  max = tonumber(lane[2]) or 0
  learnedWindow = tonumber(lane[3]) or 0
  quietFrom = (tonumber(lane[4]) or now) + tonumber(ARGV[8])
  halving = tonumber(ARGV[9])
  max = math.floor(max * growthAt(now))
  window = windowAt(now)
  if window < max then max = 0 end
end
local bound = max > 0 and ARGV[15] == '1'

if ARGV[13] == '1' then
  -- an exclusive marker: another rollout's POST of this triple was granted (or ended, or found it
  -- assigned) since this row last looked: no grant; the row looks again
  local current = redis.call('GET', KEYS[3])
  if current and string.sub(current, 1, #ARGV[6]) ~= ARGV[6] then
    redis.call('ZREM', KEYS[2], owner)
    return {2, now, 0, 0}
  end
end

-- the schedule's end: one window after the max-th latest entry (sends and promises alike)
local function planned(base)
  local n = redis.call('ZCARD', KEYS[2])
  if n < max then return base end
  local kth = tonumber(redis.call('ZRANGE', KEYS[2], n - max, n - max, 'WITHSCORES')[2])
  local w = windowAt(kth)
  -- sped up so far by then that the lane is unbound again: a millisecond per send
  if w < max then return base end
  return math.max(base, kth + w)
end

local base = math.max(now, paused)
if paused > now + tolerance then
  -- paused: come back when it ends, and plan then. The answers still coming in from the throttled
  -- burst may change the budget until then, and a row promised a late slot now could not be woken
  -- earlier.
  if bound then redis.call('ZREM', KEYS[2], owner) end
  return {0, paused}
end
local slot = nil
if bound then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - math.max(window, tonumber(ARGV[14])))
  slot = tonumber(redis.call('ZSCORE', KEYS[2], owner))
  if slot and (paused > now or (ARGV[12] == '1' and slot > base)) then
    -- paused since this slot was promised: a new place after the pause. Or this job's POST was
    -- promised a later slot and now its read goes ahead: the POST plans again after it.
    redis.call('ZREM', KEYS[2], owner)
    slot = nil
  end
end
if not slot then
  if bound and ARGV[12] ~= '1' then slot = planned(base) else slot = base end
  if slot > now + tolerance then
    if bound then redis.call('ZADD', KEYS[2], slot, owner) end
    return {0, slot}
  end
elseif slot > now + tolerance then
  return {0, slot}
end

if bound then
  redis.call('ZREM', KEYS[2], owner)
  local inWindow = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), now)
  if inWindow >= max then
    -- the window is full after all (a request went ahead, a send was re-dated late): take the moment
    -- it frees. A promised row that then finds it taken moves on the same way, a moment later each,
    -- rather than to the end of the schedule.
    local first = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - window), now, 'WITHSCORES', 'LIMIT', inWindow - max, 1)
    local at = tonumber(first[2]) + window
    redis.call('ZADD', KEYS[2], at, owner)
    return {0, at}
  end
  redis.call('ZADD', KEYS[2], now, owner .. '@' .. now)
  redis.call('PEXPIRE', KEYS[2], math.ceil(math.max(window, tonumber(ARGV[14])) * 2))
end
if paused > 0 or not lane[5] then
  -- first send after a pause (or ever). The answers to a burst just measured kept coming in (from
  -- every worker) while the lane waited: Graph took at least that many, so the burst learned at
  -- the first throttle grows to it. Then count what the tenant accepts from here.
  local measured = redis.call('HMGET', KEYS[1], 'burstMeasured', 'acceptedSinceResume', 'max')
  local accepted = tonumber(measured[2]) or 0
  if measured[1] == '1' and accepted > (tonumber(measured[3]) or 0) then redis.call('HSET', KEYS[1], 'max', accepted) end
  redis.call('HSET', KEYS[1], 'pausedUntil', 0, 'resumedAt', now, 'acceptedSinceResume', 0, 'burstMeasured', 0)
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[6] .. now, 'PX', ARGV[7]) end
local count = 0
if ARGV[10] ~= '' then
  count = redis.call('HINCRBY', KEYS[4], ARGV[10], 1)
  redis.call('PEXPIRE', KEYS[4], ARGV[11])
end
redis.call('PEXPIRE', KEYS[1], 86400000)
if bound then return {1, now, count, 1} end
return {1, now, count, 0}

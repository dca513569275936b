--[[
  A 429 or 503: pause the lane until Retry-After and, when learning, slow it down. Several in-flight
  requests of the same burst come back throttled; only the first adapts the interval.

  Without Retry-After (Intune often leaves it out) the pause backs off exponentially per burst, not
  per answer: the 7 answers of one burst of 32 requests are one signal, and counting them one by one
  would pause the lane for a minute after its first burst and teach it a pace 60 times too slow. The
  streak restarts when the lane got some sends through since it last resumed.

    Input:
      KEYS[1] lane hash (pausedUntil, tat, interval, lastAdaptAt, resumedAt, sentSinceResume, streak, lastThrottleAt)
      KEYS[2] lane reservations (sorted set; emptied when a new burst replans the lane)

      ARGV[1] nowMs
      ARGV[2] retryAfterMs; -1 = the answer had none: back off per burst
      ARGV[3] adaptive: '1' = no configured limit, learn the interval
      ARGV[4] sentAtMs: when the throttled request was granted
      ARGV[5] slowdownFactor: the most the interval grows per burst
      ARGV[6] estimateMargin over the pace Graph accepted
      ARGV[7] minLearnedIntervalMs
      ARGV[8] minSendsToLearn: a burst with fewer sends says nothing about the pace
      ARGV[9] firstGuessIntervalMs: the interval when too few sends were seen to estimate one
      ARGV[10] maxLearnedIntervalMs
      ARGV[11] minSlowdownFactor: the least the interval grows per burst
      ARGV[12] baseDelayMs of the backoff without Retry-After
      ARGV[13] random in [0, 1), the backoff's jitter
      ARGV[14] seq: the throttled request's grant number since the lane resumed; 0 = unknown
      ARGV[15] maxBackoffMs

    Output:
      pausedUntil: when the lane opens again (ms)
]]
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
  -- backoffDelayMs (lib/lanes/backoff.ts) with the streak as the attempt; here because the streak
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

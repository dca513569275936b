--[[
  A throttling answer (a 429, or a 503 that LaneBoundGraph reads as throttling): pause the lane
  until Retry-After and, without a configured limit, learn the tenant's budget. Several in-flight
  requests of the same burst come back throttled; only the first replans the lane and learns.

  What the first answer measures: Graph accepted `sent` requests (the answers that came back
  accepted since the lane started) over `span` = that time plus the wait it asks for (the first of
  them leaves Graph's window then). The budget becomes a burst at that pace; a margin over the
  measured window leaves room for the trip to Graph's counter. Later throttles adjust the budget the
  lane was using instead of measuring the pace again (below).

  Without Retry-After (Intune often leaves it out) and nothing learned yet, the pause backs off
  exponentially per burst, not per answer: the 7 answers of one burst of 32 requests are one signal.
  The streak restarts when the lane got some sends through since it last resumed. With a learned
  budget, the lane waits until its window says Graph takes requests again (see below).

    Input:
      KEYS[1] lane hash (pausedUntil, lastAdaptAt, resumedAt, acceptedSinceResume, streak, max, window,
              lastThrottleAt, burstMeasured)
      KEYS[2] lane schedule (sorted set; promised slots after now go: a new burst replans the lane)

      ARGV[1] nowMs
      ARGV[2] retryAfterMs; -1 = the answer had none: back off per burst
      ARGV[3] adaptive: '1' = no configured limit, learn the budget
      ARGV[4] sentAtMs: when the throttled request was granted
      ARGV[5] estimateMargin over the window the first throttle measures
      ARGV[6] minSendsToLearn: a burst with fewer sends says nothing about the budget
      ARGV[7] maxLearnedWindowMs
      ARGV[8] baseDelayMs of the backoff without Retry-After
      ARGV[9] random in [0, 1), the backoff's jitter
      ARGV[10] maxBackoffMs
      ARGV[11] holdMs, ARGV[12] halvingMs: how a learned budget speeds up (see lane-admit-4.lua)
      ARGV[13] accepted: answers this worker saw accepted since it last told the lane

    Output:
      pausedUntil: when the lane opens again (ms)
]]
local now = tonumber(ARGV[1])
local adaptive = ARGV[3] == '1'
local sentAt = tonumber(ARGV[4])
if tonumber(ARGV[13]) > 0 then redis.call('HINCRBY', KEYS[1], 'acceptedSinceResume', ARGV[13]) end
local lane = redis.call('HMGET', KEYS[1], 'pausedUntil', 'lastAdaptAt', 'resumedAt', 'acceptedSinceResume', 'streak', 'max', 'window', 'lastThrottleAt')
local paused = tonumber(lane[1]) or 0
-- What Graph took: the answers that came back accepted since the lane resumed (each worker reports
-- its own with its next admission), not the grants, some of which were refused or still in flight.
local sent = tonumber(lane[4]) or 0
local minSends = tonumber(ARGV[6])
-- Answers to requests sent before the last throttle are the same burst: they may lengthen the
-- pause, but only the first answer of a burst replans the lane and learns.
local newBurst = sentAt >= (tonumber(lane[2]) or 0)
local waitMs = tonumber(ARGV[2])
local resumedAt = tonumber(lane[3]) or sentAt
local elapsed = math.max(0, now - resumedAt)
-- Without Retry-After, a lane that has learned a budget knows when Graph should take requests
-- again: one window after the burst began. Throttled before `minSends` got through, it resumed too
-- early, and the window grows by a quarter; throttled while pacing, by a tenth. The window it was
-- using is the one it had sped up to (lane-admit-4.lua), which holdMs and halvingMs give.
-- the window the lane was using when it sent this request: the learned one, sped up while quiet
-- the budget the lane was using when it sent this request: the learned one, grown while quiet
-- (lane-admit-4.lua: the rate doubles every halvingMs, half as burst, half as window)
local effWindow = tonumber(lane[7]) or 0
local quiet = sentAt - (tonumber(lane[8]) or sentAt) - tonumber(ARGV[11])
local growth = 1
if quiet > 0 then growth = 2 ^ (quiet / tonumber(ARGV[12]) / 2) end
effWindow = effWindow / growth
local learnedMax = math.floor((tonumber(lane[6]) or 0) * growth)
local guessedWindow
if waitMs < 0 and adaptive and learnedMax > 0 and not newBurst then
  -- the rest of a burst already measured: the pause stands
  waitMs = 0
elseif waitMs < 0 and adaptive and learnedMax > 0 then
  local window = effWindow
  if sent < minSends then window = window * 1.25 elseif elapsed >= window then window = window * 1.1 end
  guessedWindow = math.min(window, tonumber(ARGV[7]))
  waitMs = math.max(resumedAt + guessedWindow - now, guessedWindow / learnedMax)
elseif waitMs < 0 then
  local streak = tonumber(lane[5]) or 0
  if newBurst then
    if sent >= minSends then streak = 1 else streak = streak + 1 end
    redis.call('HSET', KEYS[1], 'streak', streak)
  end
  streak = math.max(streak, 1)
  -- backoffDelayMs (lib/lanes/backoff.ts) with the streak as the attempt; here because the streak
  -- has to be counted atomically with the burst
  waitMs = math.floor(math.min(tonumber(ARGV[8]) * 2 ^ (streak - 1), tonumber(ARGV[10])) * (0.5 + tonumber(ARGV[9]) / 2))
end
local untilTs = now + waitMs
if untilTs > paused then
  redis.call('HSET', KEYS[1], 'pausedUntil', untilTs)
  paused = untilTs
end
if newBurst then
  -- promised slots were planned before Graph said no: every waiting row takes a new place after the pause
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
  redis.call('HSET', KEYS[1], 'lastAdaptAt', now)
end
if adaptive then
  if guessedWindow then
    -- no Retry-After: the wait was this lane's own guess, so it measures nothing; the burst that got
    -- through (when one did) and the window guessed above are the budget
    local burst = learnedMax
    if sent >= minSends and sent < burst then burst = math.max(sent, math.floor(burst * 0.8)) end
    redis.call('HSET', KEYS[1], 'max', burst, 'window', guessedWindow)
  elseif newBurst and sent >= minSends then
    -- Graph took `sent` over `span`. A first budget takes as its burst what got through, or, after a
    -- long unbound run, one wait's worth at that pace; a later one keeps its burst unless Graph
    -- refused before it ran out (then four fifths of it at least, so one ragged burst does not
    -- collapse it); the window is that burst at the pace Graph took.
    local span = elapsed + waitMs
    local burst = learnedMax
    local window
    local measured = false
    if burst <= 0 then
      if elapsed < waitMs then
        burst = sent
        measured = true
      else
        burst = math.max(minSends, math.floor(sent * waitMs / span))
      end
      window = burst * span / sent * tonumber(ARGV[5])
    else
      -- Cut short within the window after the lane resumed, the burst was too big and shrinks (its
      -- pace per send stays). Throttled later, the lane was pacing too fast: it takes back the
      -- burst it had before it probed beyond it and slows the window it had sped up to by 3%. Not
      -- the pace measured over the time since it resumed: a lane pacing below Graph's budget (rows
      -- arriving slowly, a lane waiting out its own window) would take its own idle time for
      -- Graph's, and a sliding window's Retry-After says when the next send frees, not the whole
      -- window. A probe that grew far while the lane had little to send was never tried: the
      -- window it keeps is at most half the learned one shorter.
      if sent < burst and elapsed < effWindow then
        -- the burst was too big, not the pace: the window stays what the lane was using
        burst = math.max(sent, math.floor(burst * 0.8))
        window = effWindow * burst / learnedMax
        measured = true
      else
        burst = tonumber(lane[6]) or burst
        window = math.max(effWindow, (tonumber(lane[7]) or effWindow) / 2) * 1.03
      end
    end
    window = math.min(window, tonumber(ARGV[7]))
    redis.call('HSET', KEYS[1], 'max', burst, 'window', window, 'burstMeasured', measured and 1 or 0)
  end
  redis.call('HSET', KEYS[1], 'lastThrottleAt', now)
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return paused

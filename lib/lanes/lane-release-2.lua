--[[
  Rows that will never come back (cancelled) give their promised slots back: the schedule closes up
  behind the last slot still promised, so the next rows of the tenant do not wait for ghosts.

    Input:
      KEYS[1] lane hash (tat, pausedUntil, interval)
      KEYS[2] lane reservations (sorted set: owner -> promised slot, ms)

      ARGV[1] intervalMs: the configured interval; -1 = the lane's learned one
      ARGV[2..] owners whose reservations go (job ids)

    Output:
      1
]]
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

--[[
  The fold's compare-and-set, when a worker stops: if the retired sum is still the one the new sum
  was computed from (same SHA-1; an absent key reads as ''), replace it, and drop the worker's live
  snapshot and its entry in the list, all at once. A script runs atomically, as a MULTI would,
  without a WATCH on the worker's shared connection, where another caller's EXEC would silently
  clear the watch.

    Input:
      KEYS[1] retired sum (string, prom-client JSON)
      KEYS[2] the worker's live snapshot (string)
      KEYS[3] workers list (sorted set of worker ids)

      ARGV[1] sha1Hex of the retired sum as read (of '' when it was absent)
      ARGV[2] new retired sum (prom-client JSON)
      ARGV[3] workerId

    Output:
      1 folded; 0 the retired sum changed since it was read (nothing written: read it and fold again)
]]
local current = redis.call('GET', KEYS[1]) or ''
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1

--[[
  Rows that will never come back (cancelled) give their promised slots back, so the next rows of
  the tenant do not wait for ghosts: the slots a new request is planned after are the schedule's.

    Input:
      KEYS[1] lane hash (kept so every lane script names the lane first; not touched)
      KEYS[2] lane schedule (sorted set: `owner` -> promised slot, ms; sends are `owner@grantMs`)

      ARGV[1..] owners whose promised slots go (job ids)

    Output:
      the number of slots given back
]]
local given = 0
for i = 1, #ARGV do given = given + redis.call('ZREM', KEYS[2], ARGV[i]) end
return given

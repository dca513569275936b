--[[
  Compare-and-set on a string key: change it only while it still holds the value the caller read,
  so a newer value someone wrote meanwhile (another rollout's marker, another run's lock) is left
  alone. A missing key never matches.

    Input:
      KEYS[1] the key

      ARGV[1] expected value (what the caller read)
      ARGV[2] action: 'set' (to ARGV[3], keeping the key's TTL), 'del', or 'pexpire' (to ARGV[3])
      ARGV[3] new value ('set'), ttlMs ('pexpire'); absent for 'del'

    Output:
      0 when the value had changed (nothing done); otherwise the reply of the command run:
      'OK' for 'set', the keys deleted (1) for 'del', 1 for 'pexpire'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local action = ARGV[2]
if action == 'set' then return redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL') end
if action == 'del' then return redis.call('DEL', KEYS[1]) end
if action == 'pexpire' then return redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return redis.error_reply('if-value-unchanged: unknown action ' .. tostring(action))

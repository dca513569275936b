--[[
  Records a row's outcome exactly once (HSETNX: a job re-run after its outcome was written changes
  nothing), bumps the rollout's and the tenant's counter, updates the row's marker, and starts the
  retention clock when the rollout is finished. One round trip.

    Input:
      KEYS[1] rollout outcomes (hash: row key -> outcome JSON)
      KEYS[2] rollout (hash: metadata and counters, per tenant as t:<tenantId>:<counter>)
      KEYS[3] row marker (string)
      KEYS[4] rollout rows (list; only its TTL is touched)

      ARGV[1] rowKey
      ARGV[2] outcomeJson
      ARGV[3] counter: the outcome's counter field (created, alreadyAssigned, failed, ...)
      ARGV[4] markerAction: 'assigned' (set to ARGV[5]), 'clear-own' (drop this rollout's `sent`
              mark), 'drop-own' (drop this rollout's `sent` or `ended` mark) or 'keep'
      ARGV[5] markerValue for 'assigned' (`assigned|<assignmentId>`); '' otherwise
      ARGV[6] retentionMs
      ARGV[7] rolloutId
      ARGV[8] finishedAt (ISO time), kept if this outcome finishes the rollout
      ARGV[9] tenantId

    Output:
      1 recorded; 0 the row already had an outcome (nothing changed)
]]
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
-- outcomes of a rollout that never finishes still expire
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('HINCRBY', KEYS[2], 't:' .. ARGV[9] .. ':' .. ARGV[3], 1)
if ARGV[4] == 'assigned' then
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
elseif ARGV[4] == 'clear-own' then
  local m = redis.call('GET', KEYS[3])
  local own = 'sent|' .. ARGV[7] .. '|'
  if m and string.sub(m, 1, #own) == own then redis.call('DEL', KEYS[3]) end
elseif ARGV[4] == 'drop-own' then
  local m = redis.call('GET', KEYS[3])
  local sent = 'sent|' .. ARGV[7] .. '|'
  local ended = 'ended|' .. ARGV[7] .. '|'
  if m and (string.sub(m, 1, #sent) == sent or string.sub(m, 1, #ended) == ended) then redis.call('DEL', KEYS[3]) end
end
local h = redis.call('HMGET', KEYS[2], 'total', 'created', 'alreadyAssigned', 'failed', 'cancelled', 'deleted', 'alreadyDeleted')
local done = 0
for i = 2, 7 do done = done + (tonumber(h[i]) or 0) end
if done >= (tonumber(h[1]) or 0) then
  redis.call('HSETNX', KEYS[2], 'finishedAt', ARGV[8])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return 1

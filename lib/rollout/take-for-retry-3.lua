--[[
  Takes rows of the given outcome back for `retry`, atomically per chunk: each row's outcome moves to
  its history and the counters go down, so two concurrent retries never take the same row twice.

    Input:
      KEYS[1] rollout outcomes (hash: row key -> outcome JSON)
      KEYS[2] rollout (hash: counters, per tenant as t:<tenantId>:<counter>)
      KEYS[3] rollout history (hash: row key -> JSON array of earlier outcomes)

      ARGV[1] kind: the outcome to take back (failed, cancelled, ...)
      ARGV[2] counter: its counter field
      ARGV[3], ARGV[4], ... pairs of rowKey, rowNumber (0-based, as a string)

    Output:
      the row numbers (ARGV[4], ARGV[6], ...) of the rows taken
]]
local taken = {}
local kind = ARGV[1]
local counter = ARGV[2]
for i = 3, #ARGV, 2 do
  local rowKey = ARGV[i]
  local value = redis.call('HGET', KEYS[1], rowKey)
  if value then
    local outcome = cjson.decode(value)
    if outcome['outcome'] == kind then
      local history = redis.call('HGET', KEYS[3], rowKey)
      local list = history and cjson.decode(history) or {}
      table.insert(list, outcome)
      redis.call('HSET', KEYS[3], rowKey, cjson.encode(list))
      redis.call('HDEL', KEYS[1], rowKey)
      redis.call('HINCRBY', KEYS[2], counter, -1)
      redis.call('HINCRBY', KEYS[2], 't:' .. outcome['tenantId'] .. ':' .. counter, -1)
      table.insert(taken, ARGV[i + 1])
    end
  end
end
if #taken > 0 then
  redis.call('HDEL', KEYS[2], 'finishedAt')
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
return taken

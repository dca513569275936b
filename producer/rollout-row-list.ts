import type { Redis } from 'ioredis';
import type { RedisKeys } from '../lib/redis-keys.js';

/**
 * Appends row keys, in order, to a rollout's row list (`P:rollout:<id>:rows`, the report's order),
 * one chunk per round trip, with the list's retention renewed as RolloutStore.create sets it. Lets
 * the producer write the list a chunk ahead of that chunk's jobs instead of all of it up front, so
 * no more than one chunk of row keys is ever built in memory.
 */
export async function appendRolloutRows(redis: Redis, keys: RedisKeys, rolloutId: string, rowKeys: string[], retentionMs: number): Promise<void> {
  if (rowKeys.length === 0) return;
  const list = keys.rolloutRows(rolloutId);
  const results = await redis.multi().rpush(list, ...rowKeys).pexpire(list, retentionMs).exec();
  // MULTI reports a failed command inside its results rather than by rejecting.
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
  if (results === null) throw new Error(`appending rows to ${list}: transaction aborted`);
}

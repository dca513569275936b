import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../lib/config.js';
import { connectRedis, redactedRedisUrl } from '../lib/redis/redis-connection.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';

/**
 * Config plus a Redis connection for a short-lived command; Redis not answering is one clear line,
 * not a retry loop.
 */
export async function openClient(): Promise<{ config: Config; redis: Redis }> {
  const config = loadConfig();
  const redis = connectRedis(config.redisUrl, 'client');
  // Reported by the ping below, once. The connection's own error (ECONNREFUSED, ENOTFOUND) says more
  // than the ping's "reached the max retries per request".
  let connectionError: Error | undefined;
  redis.on('error', (err: Error) => (connectionError = err));
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new UserError(
      ErrorCodes.REDIS_UNAVAILABLE,
      `cannot reach Redis at ${redactedRedisUrl(config.redisUrl)} (REDIS_URL): ${(connectionError ?? (err as Error)).message}`,
    );
  }
  return { config, redis };
}

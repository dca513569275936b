import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../lib/config.js';
import { checkRedisAnswers, connectRedis } from '../lib/redis/redis-connection.js';

/**
 * Config plus a Redis connection for a short-lived command; Redis not answering is one clear line,
 * not a retry loop.
 */
export async function openClient(): Promise<{ config: Config; redis: Redis }> {
  const config = loadConfig();
  const redis = connectRedis(config.redisUrl, 'client');
  try {
    await checkRedisAnswers(redis, config.redisUrl);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return { config, redis };
}

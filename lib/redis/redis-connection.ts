import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers block on Redis and must ride out a restart (`maxRetriesPerRequest: null`, as BullMQ
 * requires); commands a person waits on fail fast instead of queueing while Redis is away. The
 * server rides out a restart too (it reconnects for ever) but answers its callers fast meanwhile:
 * a sender whose event got a 503 sends it again.
 */
export function connectRedis(url: string, role: 'worker' | 'client' | 'server'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : role === 'server'
        ? {
            maxRetriesPerRequest: 2,
            enableOfflineQueue: true,
            connectTimeout: 5000,
            retryStrategy: (n) => Math.min(2000, 100 * n),
          }
        : {
            maxRetriesPerRequest: 1,
            enableOfflineQueue: true,
            connectTimeout: 5000,
            retryStrategy: (n) => (n > 3 ? null : 200 * n),
          };
  return new Redis(url, options);
}

/** Redis URL as safe to print: never the password. */
export function redactedRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://?';
  }
}

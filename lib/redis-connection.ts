import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers block on Redis and must ride out a restart (`maxRetriesPerRequest: null`, as BullMQ
 * requires); commands a person waits on fail fast instead of queueing while Redis is away.
 */
export function connectRedis(url: string, role: 'worker' | 'client'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5000, retryStrategy: (n) => (n > 3 ? null : 200 * n) };
  return new Redis(url, options);
}

import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { ErrorCodes } from '../errors/codes.js';
import { UserError } from '../errors/user-error.js';
import { defineLoadedLuaScripts } from './lua-script.js';

/**
 * Workers block on Redis and must ride out a restart (`maxRetriesPerRequest: null`, as BullMQ
 * requires); commands a person waits on fail fast instead of queueing while Redis is away. The
 * server rides out a restart too (it reconnects for ever) but answers its callers fast meanwhile:
 * a sender whose event got a 503 sends it again.
 */
export function connectRedis(
  url: string,
  role: 'worker' | 'client' | 'server',
  extra: Pick<RedisOptions, 'enableAutoPipelining'> = {},
): Redis {
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
  const redis = new Redis(url, { ...options, ...extra });
  if (extra.enableAutoPipelining) defineLoadedLuaScripts(redis);
  return redis;
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

/**
 * One PING before a process relies on Redis. A Redis that does not answer is one E_REDIS_UNAVAILABLE
 * naming REDIS_URL (never its password) and the connection's own error (ECONNREFUSED, ENOTFOUND),
 * which says more than the ping's "reached the max retries per request". `timeoutMs` bounds the wait
 * on a connection that queues commands until Redis is back (a worker's). The caller disconnects.
 */
export async function checkRedisAnswers(redis: Redis, url: string, timeoutMs?: number): Promise<void> {
  let connectionError: Error | undefined;
  // Left attached: a short-lived command's connection has no other listener, and an 'error' event
  // without one is printed by ioredis as an unhandled error.
  redis.on('error', (err: Error) => (connectionError = err));
  try {
    const ping = redis.ping();
    if (timeoutMs === undefined) await ping;
    else {
      const timeout = sleep(timeoutMs, undefined, { ref: false }).then(() => {
        throw new Error(`no answer in ${timeoutMs / 1000} s`);
      });
      await Promise.race([ping, timeout]);
    }
  } catch (err) {
    throw new UserError(
      ErrorCodes.REDIS_UNAVAILABLE,
      `cannot reach Redis at ${redactedRedisUrl(url)} (REDIS_URL): ${(connectionError ?? (err as Error)).message}`,
    );
  }
}

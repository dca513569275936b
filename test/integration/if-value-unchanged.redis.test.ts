import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { ifValueUnchanged } from '../../lib/redis/if-value-unchanged.js';

/**
 * The compare-and-set the row markers and the schedule lock share (if-value-unchanged-1.lua), on a
 * redis-server of this file's own: it acts only while the key still holds the value read.
 */
let server: LocalRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startLocalRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const key = () => `cas:${randomUUID()}`;

describe('ifValueUnchanged', () => {
  it('set: replaces the value and keeps the TTL, only while the value is unchanged', async () => {
    const k = key();
    await redis.set(k, 'sent|r|1', 'PX', 60_000);
    expect(await ifValueUnchanged(redis, k, 'sent|r|1', { action: 'set', value: 'ended|r|2' })).toBe('OK');
    expect(await redis.get(k)).toBe('ended|r|2');
    expect(await redis.pttl(k)).toBeGreaterThan(50_000);
    expect(await ifValueUnchanged(redis, k, 'sent|r|1', { action: 'set', value: 'ended|r|3' })).toBe(0);
    expect(await redis.get(k)).toBe('ended|r|2');
  });

  it('del: deletes only while the value is unchanged', async () => {
    const k = key();
    await redis.set(k, 'assigned|a');
    expect(await ifValueUnchanged(redis, k, 'sent|r|1', { action: 'del' })).toBe(0);
    expect(await redis.get(k)).toBe('assigned|a');
    expect(await ifValueUnchanged(redis, k, 'assigned|a', { action: 'del' })).toBe(1);
    expect(await redis.exists(k)).toBe(0);
  });

  it('pexpire: renews only while the value is unchanged', async () => {
    const k = key();
    await redis.set(k, 'job-1', 'PX', 1000);
    expect(await ifValueUnchanged(redis, k, 'job-1', { action: 'pexpire', ttlMs: 60_000 })).toBe(1);
    expect(await redis.pttl(k)).toBeGreaterThan(50_000);
    expect(await ifValueUnchanged(redis, k, 'job-2', { action: 'pexpire', ttlMs: 1 })).toBe(0);
    expect(await redis.pttl(k)).toBeGreaterThan(50_000);
  });

  it('a missing key never matches, and is not created', async () => {
    const k = key();
    expect(await ifValueUnchanged(redis, k, '', { action: 'set', value: 'x' })).toBe(0);
    expect(await ifValueUnchanged(redis, k, 'x', { action: 'del' })).toBe(0);
    expect(await redis.exists(k)).toBe(0);
  });

  it('refuses an action it does not know (a caller out of step with the script)', async () => {
    const k = key();
    await redis.set(k, 'v');
    await ifValueUnchanged(redis, k, 'other', { action: 'del' }); // defines the command on this connection
    await expect(redis.ifValueUnchanged(k, 'v', 'rename' as 'del')).rejects.toThrow(/unknown action rename/);
    expect(await redis.get(k)).toBe('v');
  });
});

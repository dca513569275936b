import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';
import { TenantLanes } from '../../lib/lanes/tenant-lanes.js';
import { lanePacing } from '../../lib/lanes/lane-pacing.js';

/**
 * Lane arithmetic, on a real Redis (the lanes are Lua scripts) with a fake clock: every call is
 * given its `now`, so these tests are exact and take no time.
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

let keys: RedisKeys;
beforeEach(() => {
  keys = new RedisKeys(`lane${randomUUID().slice(0, 6)}`);
});

const T0 = 1_000_000;

describe('a lane with GRAPH_RATE_LIMIT', () => {
  const limit = { max: 5, windowMs: 1000 };
  const pacing = lanePacing(limit);

  it('enforces a slightly longer window than configured, spacing slots evenly across it', () => {
    expect(pacing.windowMs).toBe(1025);
    expect(pacing.intervalMs).toBeCloseTo(205, 5);
  });

  it('grants the first request at once and promises the next ones evenly spaced slots', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    const first = await lanes.admit('t', { owner: 'a' }, T0);
    expect(first).toMatchObject({ granted: true, at: T0 });
    const promised = [];
    for (const owner of ['b', 'c', 'd']) promised.push((await lanes.admit('t', { owner }, T0)).at);
    expect(promised.map((at) => Math.round(at - T0))).toEqual([205, 410, 615]);
    // A row that comes back early keeps its place; on time, it goes.
    expect(await lanes.admit('t', { owner: 'c' }, T0 + 100)).toMatchObject({ granted: false });
    expect(await lanes.admit('t', { owner: 'c' }, T0 + 410)).toMatchObject({ granted: true });
  });

  it('never grants more than max in any window, however the rows arrive', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    const grants: number[] = [];
    const next = new Map<string, number>();
    for (let i = 0; i < 30; i++) next.set(`r${i}`, T0);
    // Rows come back when told; the clock only moves forward.
    for (let now = T0; now < T0 + 10_000 && next.size > 0; now += 7) {
      for (const [owner, at] of [...next]) {
        if (at > now) continue;
        const a = await lanes.admit('t', { owner }, now);
        if (a.granted) {
          grants.push(now);
          next.delete(owner);
        } else next.set(owner, a.at);
      }
    }
    expect(grants).toHaveLength(30);
    for (let i = 0; i + limit.max < grants.length; i++)
      expect(grants[i + limit.max]! - grants[i]!).toBeGreaterThanOrEqual(limit.windowMs);
  });

  it('a send that left late is counted when it left, so later grants keep their distance as Graph sees it', async () => {
    const lanes = new TenantLanes(redis, keys, { max: 1, windowMs: 1000 });
    const w = lanePacing({ max: 1, windowMs: 1000 }).windowMs;
    expect((await lanes.admit('t', { owner: 'a' }, T0)).granted).toBe(true);
    await lanes.sentLate('t', 'a', T0, T0 + 300);
    const b = await lanes.admit('t', { owner: 'b' }, T0 + w);
    expect(b).toMatchObject({ granted: false, at: T0 + 300 + w });
  });

  it('a 429 pauses the lane until Retry-After, and promised slots are replanned after the pause', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    await lanes.admit('t', { owner: 'a' }, T0);
    const promised = await lanes.admit('t', { owner: 'b' }, T0);
    expect(promised.granted).toBe(false);
    const until = await lanes.throttled('t', 3000, T0, T0 + 10);
    expect(until).toBe(T0 + 3010);
    // b's slot fell inside the pause: it gets a new one after it.
    const b = await lanes.admit('t', { owner: 'b' }, promised.at);
    expect(b.granted).toBe(false);
    expect(b.at).toBeGreaterThanOrEqual(until);
    expect(await lanes.state('t')).toMatchObject({ pausedUntil: until });
  });

  it('slots promised to cancelled rows are given back, so the next row does not wait behind them', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    await lanes.admit('t', { owner: 'a' }, T0);
    for (const owner of ['b', 'c', 'd']) await lanes.admit('t', { owner }, T0);
    await lanes.release('t', ['c', 'd']);
    const next = await lanes.admit('t', { owner: 'e' }, T0 + 1);
    expect(Math.round(next.at - T0)).toBe(410);
  });

  it('a request that goes ahead takes the next moment the window allows, not the end of the promised schedule', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (const owner of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await lanes.admit('t', { owner }, T0);
    const endOfSchedule = (await lanes.admit('t', { owner: 'h' }, T0)).at;
    // Only 'a' has been sent: the window has room, so the listing page goes now.
    expect(await lanes.admit('t', { owner: 'reader', ahead: true }, T0 + 1)).toMatchObject({
      granted: true,
      at: T0 + 1,
    });
    // Promised slots keep their times; the end of the schedule moves back one slot to make room.
    expect((await lanes.admit('t', { owner: 'i' }, T0 + 2)).at).toBeCloseTo(endOfSchedule + 2 * pacing.intervalMs, 5);
    // A second request going ahead keeps the lane's spacing after the first.
    expect(await lanes.admit('t', { owner: 'reader2', ahead: true }, T0 + 3)).toMatchObject({
      granted: false,
      at: T0 + 1 + pacing.intervalMs,
    });
  });

  it('a request going ahead that comes back a moment early keeps its slot', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    expect((await lanes.admit('t', { owner: 'p1', ahead: true }, T0)).granted).toBe(true);
    const waiting = await lanes.admit('t', { owner: 'p2', ahead: true }, T0 + 1);
    expect(waiting).toMatchObject({ granted: false, at: T0 + pacing.intervalMs });
    expect(await lanes.admit('t', { owner: 'p2', ahead: true }, waiting.at - 5)).toMatchObject({
      granted: false,
      at: waiting.at,
    });
    expect(await lanes.admit('t', { owner: 'p2', ahead: true }, waiting.at)).toMatchObject({ granted: true });
  });

  it('requests going ahead are spaced like the lane even when it learns its pace', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 10; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    await lanes.throttled('t', 1000, T0, T0 + 100);
    const interval = (await lanes.state('t')).intervalMs;
    const first = await lanes.admit('t', { owner: 'p1', ahead: true }, T0 + 1100);
    expect(first).toMatchObject({ granted: true });
    // Lua hands times back as whole milliseconds.
    expect(await lanes.admit('t', { owner: 'p2', ahead: true }, T0 + 1100)).toMatchObject({
      granted: false,
      at: Math.floor(T0 + 1100 + interval),
    });
  });

  it('going ahead never breaks the window: with max sends in it, the request waits for the first to leave', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < limit.max; i++)
      expect((await lanes.admit('t', { owner: `s${i}` }, T0 + i * pacing.intervalMs)).granted).toBe(true);
    const waiting = await lanes.admit('t', { owner: 'reader', ahead: true }, T0 + 900);
    expect(waiting).toMatchObject({ granted: false, at: T0 + pacing.windowMs });
    expect((await lanes.admit('t', { owner: 'reader', ahead: true }, T0 + pacing.windowMs)).granted).toBe(true);
  });

  it('a request going ahead drops a later slot its job was promised, and still waits out a pause', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (const owner of ['a', 'b', 'c']) await lanes.admit('t', { owner }, T0);
    // 'c' holds a slot 410 ms out; its listing read goes now instead.
    expect(await lanes.admit('t', { owner: 'c', ahead: true }, T0 + 1)).toMatchObject({ granted: true });
    const until = await lanes.throttled('t', 2000, T0 + 1, T0 + 5);
    expect(await lanes.admit('t', { owner: 'x', ahead: true }, T0 + 6)).toMatchObject({ granted: false, at: until });
  });

  it('an exclusive marker is granted while absent or this row’s own, and refused once another rollout holds it', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const key = `${keys.prefix}:marker:x`;
    const mine = { key, value: 'sent|rollout-b|', ttlMs: 60_000, exclusive: true };
    expect(await lanes.admit('t', { owner: 'b1', marker: mine }, T0)).toMatchObject({ granted: true });
    // Its own earlier grant (a retry with a fresh token) does not block it.
    expect(await lanes.admit('t', { owner: 'b1', marker: mine }, T0 + 1)).toMatchObject({ granted: true });
    await redis.set(key, `sent|rollout-a|${T0 + 2}`);
    expect(await lanes.admit('t', { owner: 'b1', marker: mine }, T0 + 3)).toMatchObject({
      granted: false,
      markerTaken: true,
    });
    expect(await redis.get(key)).toBe(`sent|rollout-a|${T0 + 2}`);
  });

  it('a paused tenant holds back no other tenant', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    await lanes.throttled('slow', 60_000, T0, T0);
    expect((await lanes.admit('slow', { owner: 'a' }, T0 + 1)).granted).toBe(false);
    expect((await lanes.admit('quiet', { owner: 'b' }, T0 + 1)).granted).toBe(true);
  });

  it('writes the sent marker and counts the attempt atomically with the grant, and only then', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    const marker = { key: `${keys.prefix}:m`, value: 'sent|r|1', ttlMs: 60_000 };
    const countIn = { key: `${keys.prefix}:attempts`, field: 'row', ttlMs: 60_000 };
    expect(await lanes.admit('t', { owner: 'a', marker, countIn }, T0)).toMatchObject({ granted: true, count: 1 });
    await redis.del(marker.key);
    expect((await lanes.admit('t', { owner: 'b', marker, countIn }, T0)).granted).toBe(false);
    expect(await redis.get(marker.key)).toBeNull();
    expect(await redis.hget(countIn.key, 'row')).toBe('1');
  });
});

/** Sends `n` requests one after another, each when the lane grants it; returns the last grant time. */
async function sendAtPace(lanes: TenantLanes, n: number, start: number): Promise<number> {
  let now = start;
  for (let i = 0; i < n; i++) {
    let a = await lanes.admit('t', { owner: `s${i}` }, now);
    while (!a.granted) {
      now = a.at;
      a = await lanes.admit('t', { owner: `s${i}` }, now);
    }
  }
  return now;
}

describe('a lane that learns its pace from Graph (no GRAPH_RATE_LIMIT)', () => {
  it('sends without pacing until Graph throttles', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 20; i++) expect((await lanes.admit('t', { owner: `r${i}` }, T0)).granted).toBe(true);
  });

  it('after a throttled burst, paces a little under what Graph accepted, and later bursts slow it further', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 50; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    // 50 sent at T0; Graph says come back in 1 s: it took about 50 per second.
    await lanes.throttled('t', 1000, T0, T0 + 100);
    const learned = (await lanes.state('t')).intervalMs;
    expect(learned).toBeCloseTo(((100 + 1000) / 50) * 1.03, 5);
    // More answers from the same burst only lengthen the pause.
    await lanes.throttled('t', 1200, T0, T0 + 120);
    expect((await lanes.state('t')).intervalMs).toBe(learned);
    // Five paced sends after the pause, then a throttle asking for 500 ms: well over the limit, so
    // the lane slows by the most it may, a quarter.
    const now = await sendAtPace(lanes, 5, T0 + 1400);
    await lanes.throttled('t', 500, now, now + 5);
    expect((await lanes.state('t')).intervalMs).toBeCloseTo(learned * 1.25, 5);
  });

  it('a throttle after a long run at the learned pace slows the lane only a little', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 50; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    await lanes.throttled('t', 1000, T0, T0 + 100);
    const learned = (await lanes.state('t')).intervalMs;
    const now = await sendAtPace(lanes, 400, T0 + 1100);
    // 400 accepted at the learned pace, then one throttle with a short wait: the edge of the limit.
    await lanes.throttled('t', 20, now, now + 1);
    expect((await lanes.state('t')).intervalMs).toBeCloseTo(learned * lanePacing(undefined).minSlowdownFactor, 5);
  });

  it('learns from the sends Graph accepted before the throttled one, not from the ones still in flight', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const grants = [];
    for (let i = 0; i < 32; i++) grants.push(await lanes.admit('t', { owner: `r${i}` }, T0));
    expect(grants.map((g) => g.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    // Graph took 25 of the 32 in flight; the 26th comes back 429 asking for 1 s.
    await lanes.throttled('t', 1000, T0, T0 + 50, { seq: grants[25]!.seq });
    expect((await lanes.state('t')).intervalMs).toBeCloseTo(((50 + 1000) / 25) * 1.03, 5);
  });

  it('without Retry-After, a burst of throttled answers backs off once, not once per answer', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const backoff = { baseDelayMs: 1000, random: () => 1 };
    for (let i = 0; i < 32; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    // Seven of the 32 come back 429 without Retry-After: one burst, one base delay from the last.
    let until = 0;
    for (let i = 0; i < 7; i++) until = await lanes.throttled('t', undefined, T0, T0 + 100 + i, backoff);
    expect(until).toBe(T0 + 106 + 1000);
    expect((await lanes.state('t')).intervalMs).toBeCloseTo(((100 + 1000) / 32) * 1.03, 5);
    // Throttled again right after resuming (one send through): that one doubles.
    expect((await lanes.admit('t', { owner: 'next' }, until)).granted).toBe(true);
    expect(await lanes.throttled('t', undefined, until, until + 5, backoff)).toBe(until + 5 + 2000);
  });

  it('a throttle after too few sends to learn from starts from a cautious guess', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    await lanes.admit('t', { owner: 'a' }, T0);
    await lanes.throttled('t', 1000, T0, T0 + 5);
    expect((await lanes.state('t')).intervalMs).toBe(lanePacing(undefined).firstGuessIntervalMs);
  });
});

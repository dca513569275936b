import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';
import { TenantLanes, type AdmitOptions } from '../../lib/lanes/tenant-lanes.js';
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
  const W = pacing.windowMs;
  /** GRAPH_RATE_LIMIT budgets writes: each request here is one (a POST with its `sent` marker). */
  const write = (options: AdmitOptions): AdmitOptions => ({
    ...options,
    marker: { key: `${keys.prefix}:marker:${options.owner}`, value: `sent|r|`, ttlMs: 60_000 },
  });

  it('lets reads through without spending the write budget; they only wait out a pause', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < 5; i++) expect((await lanes.admit('t', write({ owner: `p${i}` }), T0)).granted).toBe(true);
    expect(await burstAt(lanes, 20, T0, 'read')).toBe(20);
    const until = await lanes.throttled('t', 1000, T0, T0 + 1);
    expect(await lanes.admit('t', { owner: 'late-read' }, T0 + 2)).toMatchObject({ granted: false, at: until });
  });

  it('enforces a slightly longer window than configured', () => {
    expect(W).toBe(1025);
  });

  it('spends the budget’s burst at once and promises the backlog max slots per window', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (const owner of ['a', 'b', 'c', 'd', 'e'])
      expect(await lanes.admit('t', write({ owner }), T0)).toMatchObject({ granted: true, at: T0 });
    const promised = [];
    for (let i = 0; i < 10; i++) promised.push((await lanes.admit('t', write({ owner: `r${i}` }), T0)).at - T0);
    expect(promised).toEqual([W, W, W, W, W, 2 * W, 2 * W, 2 * W, 2 * W, 2 * W]);
    // A row that comes back early keeps its place; on time, it goes.
    expect(await lanes.admit('t', write({ owner: 'r7' }), T0 + W + 100)).toMatchObject({
      granted: false,
      at: T0 + 2 * W,
    });
    for (let i = 0; i < 5; i++) expect((await lanes.admit('t', write({ owner: `r${i}` }), T0 + W)).granted).toBe(true);
    expect((await lanes.admit('t', write({ owner: 'r7' }), T0 + 2 * W)).granted).toBe(true);
  });

  it('never grants more than max in any window, however the rows arrive', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    const grants: number[] = [];
    const next = new Map<string, number>();
    for (let i = 0; i < 30; i++) next.set(`r${i}`, T0 + (i % 7) * 97);
    // Rows come back when told, some of them late; the clock only moves forward.
    for (let now = T0; now < T0 + 20_000 && next.size > 0; now += 7) {
      for (const [owner, at] of [...next]) {
        if (at > now) continue;
        const a = await lanes.admit('t', write({ owner, ahead: owner.endsWith('3') }), now);
        if (a.granted) {
          grants.push(now);
          next.delete(owner);
        } else next.set(owner, a.at + (owner.endsWith('5') ? 150 : 0));
      }
    }
    expect(grants).toHaveLength(30);
    grants.sort((x, y) => x - y);
    for (let i = 0; i + limit.max < grants.length; i++)
      expect(grants[i + limit.max]! - grants[i]!).toBeGreaterThanOrEqual(limit.windowMs);
  });

  it('a send that left late is counted when it left, so later grants keep their distance as Graph sees it', async () => {
    const lanes = new TenantLanes(redis, keys, { max: 1, windowMs: 1000 });
    const w = lanePacing({ max: 1, windowMs: 1000 }).windowMs;
    expect((await lanes.admit('t', write({ owner: 'a' }), T0)).granted).toBe(true);
    await lanes.sentLate('t', 'a', T0, T0 + 300);
    const b = await lanes.admit('t', write({ owner: 'b' }), T0 + w);
    expect(b).toMatchObject({ granted: false, at: T0 + 300 + w });
  });

  it('a 429 pauses the lane until Retry-After, and promised slots are replanned after the pause', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (const owner of ['a', 'b', 'c', 'd', 'e']) await lanes.admit('t', write({ owner }), T0);
    const promised = await lanes.admit('t', write({ owner: 'f' }), T0);
    expect(promised).toMatchObject({ granted: false, at: T0 + W });
    const until = await lanes.throttled('t', 3000, T0, T0 + 10);
    expect(until).toBe(T0 + 3010);
    // f's slot fell inside the pause: it gets a new one after it.
    const f = await lanes.admit('t', write({ owner: 'f' }), promised.at);
    expect(f.granted).toBe(false);
    expect(f.at).toBeGreaterThanOrEqual(until);
    expect(await lanes.state('t')).toMatchObject({ pausedUntil: until, max: 5, windowMs: W });
  });

  it('slots promised to cancelled rows are given back, so the next row does not wait behind them', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < 15; i++) await lanes.admit('t', write({ owner: `r${i}` }), T0);
    // r5..r9 hold slots one window out, r10..r14 two; the last two are cancelled.
    await lanes.release('t', ['r13', 'r14']);
    expect((await lanes.admit('t', write({ owner: 'next' }), T0 + 1)).at).toBe(T0 + 2 * W);
  });

  it('a request that goes ahead takes the next moment the window allows, not the end of the promised schedule', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < 15; i++) await lanes.admit('t', write({ owner: `r${i}` }), T0);
    expect(await lanes.admit('t', write({ owner: 'reader', ahead: true }), T0 + 1)).toMatchObject({
      granted: false,
      at: T0 + W,
    });
    // The rows promised one window out were cancelled: the window has room now, and the read goes.
    await lanes.release('t', ['r5', 'r6', 'r7', 'r8', 'r9']);
    expect(await lanes.admit('t', write({ owner: 'reader2', ahead: true }), T0 + W)).toMatchObject({
      granted: true,
      at: T0 + W,
    });
  });

  it('a request going ahead that comes back a moment early keeps its slot', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < 5; i++) await lanes.admit('t', write({ owner: `r${i}` }), T0);
    const waiting = await lanes.admit('t', write({ owner: 'p', ahead: true }), T0 + 1);
    expect(waiting).toMatchObject({ granted: false, at: T0 + W });
    expect(await lanes.admit('t', write({ owner: 'p', ahead: true }), waiting.at - 5)).toMatchObject({
      granted: false,
      at: waiting.at,
    });
    expect(await lanes.admit('t', write({ owner: 'p', ahead: true }), waiting.at)).toMatchObject({ granted: true });
  });

  it('going ahead never breaks the window: with max sends in it, the request waits for the first to leave', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < limit.max; i++)
      expect((await lanes.admit('t', write({ owner: `s${i}` }), T0 + i * 100)).granted).toBe(true);
    const waiting = await lanes.admit('t', write({ owner: 'reader', ahead: true }), T0 + 900);
    expect(waiting).toMatchObject({ granted: false, at: T0 + W });
    expect((await lanes.admit('t', write({ owner: 'reader', ahead: true }), T0 + W)).granted).toBe(true);
  });

  it('a request going ahead drops a later slot its job was promised, and still waits out a pause', async () => {
    const lanes = new TenantLanes(redis, keys, limit);
    for (let i = 0; i < 15; i++) await lanes.admit('t', write({ owner: `r${i}` }), T0);
    await lanes.release('t', ['r5', 'r6', 'r7', 'r8', 'r9']);
    // r14 holds a slot two windows out; its listing read goes as soon as the first window ends.
    expect(await lanes.admit('t', write({ owner: 'r14', ahead: true }), T0 + W)).toMatchObject({ granted: true });
    const until = await lanes.throttled('t', 2000, T0 + W, T0 + W + 5);
    expect(await lanes.admit('t', write({ owner: 'x', ahead: true }), T0 + W + 6)).toMatchObject({
      granted: false,
      at: until,
    });
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
    const lanes = new TenantLanes(redis, keys, { max: 1, windowMs: 1000 });
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

/** Graph accepted `n` of the lane's requests. */
function acceptedAnswers(lanes: TenantLanes, n: number): void {
  for (let i = 0; i < n; i++) lanes.accepted('t');
}

/** How many of `n` requests asking at `now` are granted at once. */
async function burstAt(lanes: TenantLanes, n: number, now: number, tag: string): Promise<number> {
  let granted = 0;
  for (let i = 0; i < n; i++) if ((await lanes.admit('t', { owner: `${tag}${i}` }, now)).granted) granted++;
  return granted;
}

describe('a lane that learns its budget from Graph (no GRAPH_RATE_LIMIT)', () => {
  const learning = lanePacing(undefined);

  it('sends without pacing until Graph throttles', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    expect(await burstAt(lanes, 50, T0, 'r')).toBe(50);
  });

  it('a throttled burst teaches the budget: the sends Graph took, per the time it asked to wait', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    expect(await burstAt(lanes, 32, T0, 'r')).toBe(32);
    // Graph took 25 of the 32 in flight, then a 429 asks for 1 s. What counts is what Graph took,
    // not what was granted.
    acceptedAnswers(lanes, 25);
    const until = await lanes.throttled('t', 1000, T0, T0 + 50);
    const window = (50 + 1000) * 1.03;
    expect(await lanes.state('t')).toMatchObject({ max: 25, windowMs: window, pausedUntil: until });
    // More answers from the same burst only lengthen the pause.
    await lanes.throttled('t', 1000, T0, T0 + 60);
    expect(await lanes.state('t')).toMatchObject({ max: 25, windowMs: window });
    // After the pause the burst goes at once, and the next one a window later.
    const resume = T0 + 1060;
    expect(await burstAt(lanes, 30, resume, 'b')).toBe(25);
    expect((await lanes.admit('t', { owner: 'later' }, resume + 1)).at).toBe(Math.floor(resume + window));
  });

  /** A lane that learned 25 per about 1.1 s from its first throttled burst, and what it learned. */
  async function laneThatLearned(): Promise<{
    lanes: TenantLanes;
    learned: Awaited<ReturnType<TenantLanes['state']>>;
  }> {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 50; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    acceptedAnswers(lanes, 25);
    await lanes.throttled('t', 1000, T0, T0 + 100);
    return { lanes, learned: await lanes.state('t') };
  }

  /**
   * After a throttle while pacing: the learned burst, a window at most 3% longer than the learned
   * one, and at most twice the learned pace (a probe that grew while the lane had little to send).
   */
  async function expectPacingStep(lanes: TenantLanes, learned: { max: number; windowMs: number }): Promise<void> {
    const state = await lanes.state('t');
    expect(state.max).toBe(learned.max);
    expect(state.windowMs).toBeLessThanOrEqual(learned.windowMs * 1.03 + 1e-6);
    expect(state.windowMs).toBeGreaterThanOrEqual((learned.windowMs / 2) * 1.03 - 1e-6);
  }

  it('a throttle while pacing slows the lane a step from the pace it used, never to the pace its rows happened to come at', async () => {
    const { lanes, learned } = await laneThatLearned();
    // The rows then came slowly, 100 over 20 s (a fifth of the budget), and Graph refused the last:
    // not 100 sends per 20 s.
    let now = T0 + 1100;
    for (let i = 0; i < 100; i++, now += 200)
      expect((await lanes.admit('t', { owner: `s${i}` }, now)).granted).toBe(true);
    acceptedAnswers(lanes, 100);
    await lanes.throttled('t', 20, now - 200, now);
    await expectPacingStep(lanes, learned);
  });

  it('a throttle while pacing at its budget keeps the burst and slows the window it sped up to by a step', async () => {
    const { lanes, learned } = await laneThatLearned();
    const now = await sendAtPace(lanes, 200, T0 + 1100);
    acceptedAnswers(lanes, 200);
    await lanes.throttled('t', 20, now, now + 1);
    await expectPacingStep(lanes, learned);
  });

  it('answers of the measured burst that come in while the lane waits grow the burst it learned when it resumes', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const other = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 32; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    // This worker had seen 18 accepted when the 429 came; another worker saw 7 more.
    acceptedAnswers(lanes, 18);
    const until = await lanes.throttled('t', 1000, T0, T0 + 30);
    expect((await lanes.state('t')).max).toBe(18);
    for (let i = 0; i < 7; i++) other.accepted('t');
    expect((await other.admit('t', { owner: 'waiting' }, T0 + 500)).granted).toBe(false);
    expect((await other.admit('t', { owner: 'waiting' }, until)).granted).toBe(true);
    expect((await lanes.state('t')).max).toBe(25);
    // Once the lane has resumed, answers count for the next burst.
    expect(await burstAt(lanes, 25, until, 'b')).toBe(24);
    acceptedAnswers(lanes, 30);
    await lanes.admit('t', { owner: 'next' }, until + 1);
    expect((await lanes.state('t')).max).toBe(25);
  });

  it('a burst Graph cut short shrinks the learned burst by at most a fifth', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 40; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    acceptedAnswers(lanes, 25);
    const until = await lanes.throttled('t', 1000, T0, T0 + 10);
    expect(await burstAt(lanes, 25, until, 'b')).toBe(25);
    // Only 5 of the next burst got through (Graph's window had not emptied): 20, not 5, at the
    // same pace per send as before.
    acceptedAnswers(lanes, 5);
    await lanes.throttled('t', 500, until, until + 10);
    const state = await lanes.state('t');
    expect(state.max).toBe(20);
    expect(state.windowMs).toBeCloseTo((1010 * 1.03 * 20) / 25, 6);
  });

  it('without Retry-After, a burst of throttled answers backs off once, not once per answer', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const backoff = { baseDelayMs: 1000, random: () => 1 };
    for (let i = 0; i < 32; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    acceptedAnswers(lanes, 32);
    // Then seven more come back 429 without Retry-After: one burst, one base delay from the first.
    let until = 0;
    for (let i = 0; i < 7; i++) until = await lanes.throttled('t', undefined, T0, T0 + 100 + i, backoff);
    expect(until).toBe(T0 + 100 + 1000);
    expect(await lanes.state('t')).toMatchObject({ max: 32, windowMs: 1100 * 1.03 });
  });

  it('without Retry-After, a learned lane waits until its window says Graph takes requests again', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    const backoff = { baseDelayMs: 1000, random: () => 1 };
    for (let i = 0; i < 32; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    acceptedAnswers(lanes, 32);
    const until = await lanes.throttled('t', undefined, T0, T0 + 100, backoff);
    const window = 1100 * 1.03;
    // Throttled again right after resuming (one send through): it came back too early, and the
    // window grows by a quarter, counted from when the lane resumed.
    expect((await lanes.admit('t', { owner: 'next' }, until)).granted).toBe(true);
    expect(await lanes.throttled('t', undefined, until, until + 5, backoff)).toBe(Math.floor(until + window * 1.25));
    expect(await lanes.state('t')).toMatchObject({ max: 32, windowMs: window * 1.25 });
  });

  it('a throttle after too few sends to learn from only pauses the lane', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    await lanes.admit('t', { owner: 'a' }, T0);
    const until = await lanes.throttled('t', 1000, T0, T0 + 5);
    expect(await lanes.state('t')).toMatchObject({ max: 0, pausedUntil: until });
    expect(await burstAt(lanes, 40, until, 'b')).toBe(40);
  });

  it('probes back up once Graph stops throttling: its rate doubles every halvingMs after holdMs', async () => {
    const lanes = new TenantLanes(redis, keys, undefined);
    for (let i = 0; i < 20; i++) await lanes.admit('t', { owner: `r${i}` }, T0);
    acceptedAnswers(lanes, 10);
    await lanes.throttled('t', 1000, T0, T0);
    const window = 1000 * 1.03;
    // Within the hold: the learned budget, 10 per window.
    const held = T0 + learning.holdMs;
    expect(await burstAt(lanes, 12, held, 'h')).toBe(10);
    expect((await lanes.admit('t', { owner: 'h-next' }, held)).at).toBe(Math.floor(held + window));
    // One doubling later: a burst √2 bigger, a window √2 shorter.
    const faster = T0 + learning.holdMs + learning.halvingMs;
    expect(await burstAt(lanes, 20, faster, 'f')).toBe(Math.floor(10 * Math.SQRT2));
    expect((await lanes.admit('t', { owner: 'f-next' }, faster)).at).toBe(Math.floor(faster + window / Math.SQRT2));
    // Long quiet: unbound again, as before the first throttle.
    const quiet = T0 + 200_000;
    expect(await burstAt(lanes, 200, quiet, 'q')).toBe(200);
  });
});

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { scrapeFleet } from '../../lib/metrics/fleet-metrics.js';
import { MetricsPublisher, type MetricsPublisherOptions } from '../../lib/metrics/metrics-publisher.js';
import { WorkerMetrics } from '../../lib/metrics/worker-metrics.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';

/** The sum of a metric's samples in Prometheus text whose labels include `match`. */
function total(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Every counter and histogram sample of the worker families, by its line's name and labels. */
function counts(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m =
      /^(assignments_(?:outcomes_total|graph_requests_total|graph_throttled_total|lane_pauses_total|retry_after_seconds_\w+|graph_request_duration_seconds_\w+))(\{.*\})? (\S+)$/.exec(
        line,
      );
    if (m) found.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return found;
}

/**
 * Retiring a stopped worker's counts, against a real redis-server of this file's own: the fleet's
 * counters never go down when a worker stops gracefully, whatever the timing of the stop, the
 * scrape and other workers stopping at once.
 */
describe('retired worker metrics', () => {
  let local: LocalRedis;
  const connections: Redis[] = [];

  beforeAll(async () => {
    local = await startLocalRedis();
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    await local?.stop();
  });

  /** A connection of its own, as each worker process has. */
  function connect(): Redis {
    const c = new Redis(local.url, { maxRetriesPerRequest: 1 });
    connections.push(c);
    return c;
  }

  function setup(): { keys: RedisKeys; server: Redis; scrape(): Promise<string> } {
    const keys = new RedisKeys(`t${randomUUID().slice(0, 8)}`);
    const server = connect();
    return {
      keys,
      server,
      scrape: async () => (await scrapeFleet({ redis: server, keys, queues: [], serverRegistry: new Registry() })).text,
    };
  }

  function publisher(
    keys: RedisKeys,
    id: string,
    metrics: WorkerMetrics,
    options: MetricsPublisherOptions = {},
    redis: Redis = connect(),
  ): MetricsPublisher {
    return new MetricsPublisher(redis, keys, id, metrics.registry, options);
  }

  /** Some of everything a worker counts: `n` outcomes, requests and 429s. */
  function work(m: WorkerMetrics, tenant: string, n: number): void {
    for (let i = 0; i < n; i++) {
      m.outcome(tenant, 'created');
      m.graphRequest(tenant, 'POST', 201, 0.05 * (i + 1));
      m.throttled(tenant, 1000 * (i + 1));
      m.lanePaused(tenant);
    }
  }

  it('keeps a stopped worker’s counts in the totals, before and after its TTL, and counts it out of assignments_workers', async () => {
    const { keys, server, scrape } = setup();
    const a = new WorkerMetrics();
    const b = new WorkerMetrics();
    // A gauge of the moment: a dead worker's reading must not stay in the sums.
    const inFlight = new Gauge({ name: 'assignments_test_in_flight', help: 'Test gauge.', registers: [a.registry] });
    inFlight.set(7);
    work(a, 't1', 3);
    work(b, 't1', 2);
    work(b, 't2', 1);
    const pa = publisher(keys, 'a', a, { intervalMs: 50, ttlMs: 400 });
    const pb = publisher(keys, 'b', b, { intervalMs: 50, ttlMs: 400 });
    await Promise.all([pa.start(), pb.start()]);

    const before = await scrape();
    expect(total(before, 'assignments_workers')).toBe(2);
    expect(total(before, 'assignments_outcomes_total')).toBe(6);
    expect(total(before, 'assignments_test_in_flight')).toBe(7);

    // Counted after a's last publish: the fold takes them, not only what Redis already had.
    work(a, 't3', 2);
    await pa.stop();
    const after = await scrape();
    expect(total(after, 'assignments_workers')).toBe(1);
    expect(total(after, 'assignments_outcomes_total')).toBe(8);
    expect(total(after, 'assignments_outcomes_total', { tenant: 't1' })).toBe(5);
    expect(total(after, 'assignments_outcomes_total', { tenant: 't3' })).toBe(2);
    expect(total(after, 'assignments_graph_throttled_total')).toBe(8);
    expect(total(after, 'assignments_lane_pauses_total')).toBe(8);
    expect(total(after, 'assignments_retry_after_seconds_count')).toBe(8);
    expect(total(after, 'assignments_retry_after_seconds_bucket', { le: '+Inf' })).toBe(8);
    // 1+2+3 s (a, t1) + 1+2 (a, t3) + 1+2 (b, t1) + 1 (b, t2)
    expect(total(after, 'assignments_retry_after_seconds_sum')).toBe(13);
    expect(total(after, 'assignments_graph_request_duration_seconds_count', { method: 'POST' })).toBe(8);
    expect(total(after, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '0.1' })).toBe(7);
    expect(total(after, 'assignments_test_in_flight')).toBe(0);
    for (const [series, value] of counts(before))
      expect(counts(after).get(series), series).toBeGreaterThanOrEqual(value);
    // Its live snapshot and its entry went with the fold: no TTL left to run out.
    expect(await server.exists(keys.workerMetrics('a'))).toBe(0);
    expect(await server.zrange(keys.metricsWorkers(), '0', '-1')).toEqual(['b']);
    expect(await server.get(keys.metricsRetired())).not.toContain('assignments_test_in_flight');

    // Well past a's TTL, while b keeps publishing: nothing more leaves.
    await sleep(1000);
    const later = await scrape();
    expect(total(later, 'assignments_workers')).toBe(1);
    expect(counts(later)).toEqual(counts(after));

    await pb.stop();
    const none = await scrape();
    expect(total(none, 'assignments_workers')).toBe(0);
    expect(counts(none)).toEqual(counts(after));
    // Retired counts stay for the Redis's life.
    expect(await server.pttl(keys.metricsRetired())).toBe(-1);
    // A second stop does not count the worker again.
    await pa.stop();
    expect(counts(await scrape())).toEqual(counts(after));
  });

  it('folds both of two workers that stop at once, the later one onto the sum the other just wrote', async () => {
    const { keys, server, scrape } = setup();
    const a = new WorkerMetrics();
    const b = new WorkerMetrics();
    work(a, 't1', 4);
    work(b, 't1', 3);
    const pb = publisher(keys, 'b', b);
    // a reads the retired sum (still empty), then b folds in full before a's write lands.
    const aConnection = connect();
    let reads = 0;
    const racing = new Proxy(aConnection, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop !== 'getBuffer' || typeof value !== 'function')
          return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const read: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (++reads === 1) await pb.stop();
          return read;
        };
      },
    });
    const pa = publisher(keys, 'a', a, {}, racing);
    await Promise.all([pa.start(), pb.start()]);
    expect(total(await scrape(), 'assignments_outcomes_total')).toBe(7);

    await pa.stop();
    expect(reads).toBe(2);
    const text = await scrape();
    expect(total(text, 'assignments_workers')).toBe(0);
    expect(total(text, 'assignments_outcomes_total', { tenant: 't1' })).toBe(7);
    expect(total(text, 'assignments_retry_after_seconds_count')).toBe(7);
    expect(total(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '+Inf' })).toBe(7);
    expect(await server.exists(keys.workerMetrics('a'), keys.workerMetrics('b'), keys.metricsWorkers())).toBe(0);
  });

  it('never shows a worker’s counts twice or not at all while many stop at once', async () => {
    const { keys, scrape } = setup();
    const n = 8;
    const publishers: MetricsPublisher[] = [];
    for (let i = 0; i < n; i++) {
      const m = new WorkerMetrics();
      work(m, `t${i % 3}`, i + 1);
      publishers.push(publisher(keys, `w${i}`, m, { intervalMs: 20 }));
    }
    await Promise.all(publishers.map((p) => p.start()));
    const expected = (n * (n + 1)) / 2;
    expect(total(await scrape(), 'assignments_outcomes_total')).toBe(expected);

    let stopped = false;
    const stops = Promise.all(publishers.map((p) => p.stop())).finally(() => (stopped = true));
    const seen: number[] = [];
    while (!stopped) seen.push(total(await scrape(), 'assignments_outcomes_total'));
    await stops;
    seen.push(total(await scrape(), 'assignments_outcomes_total'));
    expect(seen.length).toBeGreaterThan(1);
    expect(new Set(seen)).toEqual(new Set([expected]));
    const text = await scrape();
    expect(total(text, 'assignments_workers')).toBe(0);
    expect(total(text, 'assignments_lane_pauses_total')).toBe(expected);
    expect(total(text, 'assignments_retry_after_seconds_count')).toBe(expected);
  });
});

import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { PromEventMetrics } from '../../lib/metrics/event-metrics.js';
import { OUTCOME_KINDS } from '../../lib/outcome.js';
import { openQueue } from '../../lib/queues/assignment-queue.js';
import { connectRedis } from '../../lib/redis/redis-connection.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';
import { COUNTER, RolloutStore } from '../../lib/rollout/rollout-store.js';
import { registerMetricsRoute } from '../../server/metrics-route.js';
import type { ServerDeps } from '../../server/server-deps.js';
import { EVENTS_QUEUE_NAME, type EventJobData } from '../../lib/queues/event-queue.js';
import { openSyncQueue } from '../../lib/queues/sync-queue.js';
import { enqueueRows, statusOf, waitUntil } from '../support/rollout-checks.js';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';

/** Every sample of a metric in Prometheus text, with its labels. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const found: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    found.push({ labels, value: Number(m[3]) });
  }
  return found;
}

/** The sum of a metric's samples whose labels include `match`. */
function total(text: string, name: string, match: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** The worker families' counter and histogram samples (the sums that must never go down), by series. */
function workerCounts(text: string): Map<string, number> {
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
 * One scrape sees the fleet: two real worker processes roll out through a throttling, failing
 * emulator, publish their metrics to Redis, and the server's `GET /metrics` adds them up.
 */
describe('GET /metrics for the fleet', () => {
  let stack: Stack;
  let redis: Redis;
  let app: FastifyInstance;
  let queues: ServerDeps['queues'];
  const workers: WorkerHandle[] = [];

  beforeAll(async () => {
    stack = await startStack({
      // No GRAPH_RATE_LIMIT: the lanes learn the pace from the emulator's 429s.
      emulator: {
        rateLimit: { max: 3, windowMs: 1000 },
        faults: { serviceUnavailableNoRetryAfter: 0.1, internalError: 0.05 },
        seed: 13,
      },
      env: { RETRY_MAX_ATTEMPTS: '20', RETRY_BASE_DELAY_MS: '100', GRAPH_SETTLE_MS: '500', METRICS_PORT: '0' },
    });
    workers.push(await stack.worker(), await stack.worker());

    redis = connectRedis(stack.redisUrl, 'server');
    queues = {
      assignments: openQueue(redis, stack.prefix),
      syncs: openSyncQueue(redis, stack.prefix),
      events: new Queue<EventJobData>(EVENTS_QUEUE_NAME, { connection: redis, prefix: stack.prefix }),
    };
    const serverRegistry = new Registry();
    const deps: ServerDeps = {
      config: loadConfig(stack.env),
      logger: createLogger('silent'),
      redis,
      keys: new RedisKeys(stack.prefix),
      store: new RolloutStore(redis, stack.prefix, 86_400_000),
      queues,
      eventMetrics: new PromEventMetrics(serverRegistry),
    };
    deps.eventMetrics.received('events');
    app = Fastify();
    registerMetricsRoute(app, { ...deps, serverRegistry });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await Promise.allSettled(Object.values(queues ?? {}).map((q) => q.close()));
    redis?.disconnect();
    await stack?.stop();
  });

  async function scrape(): Promise<{ text: string; contentType: string }> {
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    return { text: res.body, contentType: String(res.headers['content-type']) };
  }

  it('adds both workers’ outcomes, requests, 429s, pauses and latencies up, with the queues and the server’s counters', async () => {
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const rows = makeRows(tenants, 2, 10);
    await stack.control.createConfigurations(rows);
    // Assigned by hand before the rollout: these rows end already-assigned.
    for (const r of [rows[0]!, rows[25]!])
      await stack.control.createAssignment(r.tenantId, r.configurationId, r.groupId);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 60_000);
    const status = await statusOf(stack, rolloutId);
    const stats = await stack.control.stats();

    // Workers publish every 5 s: wait for the snapshots that hold the last outcomes.
    const { text, contentType } = await waitUntil(
      'the fleet metrics to count every outcome',
      async () => {
        const s = await scrape();
        return total(s.text, 'assignments_outcomes_total') === rows.length ? s : undefined;
      },
      20_000,
      250,
    );

    expect(contentType).toContain('text/plain');
    expect(total(text, 'assignments_workers')).toBe(2);
    for (const t of status.tenants) {
      for (const kind of OUTCOME_KINDS) {
        const expected = t[COUNTER[kind] as 'created'];
        expect(
          total(text, 'assignments_outcomes_total', { tenant: t.tenantId, outcome: kind }),
          `${t.tenantId} ${kind}`,
        ).toBe(expected);
      }
    }
    expect(total(text, 'assignments_outcomes_total', { outcome: 'already-assigned' })).toBe(2);

    // Each created row had exactly one POST answered 201 (503s and 500s create nothing).
    expect(total(text, 'assignments_graph_requests_total', { method: 'POST', status: '201' })).toBe(status.created);
    expect(total(text, 'assignments_graph_requests_total', { method: 'GET', status: '200' })).toBeGreaterThan(0);
    for (const tenantId of tenants) {
      const emulated = stats.tenants[tenantId]!;
      // Every 429 and 503 the emulator answered was counted by exactly one worker.
      expect(total(text, 'assignments_graph_requests_total', { tenant: tenantId, status: '429' })).toBe(
        emulated.throttled,
      );
      expect(total(text, 'assignments_graph_throttled_total', { tenant: tenantId })).toBe(emulated.throttled);
      expect(total(text, 'assignments_graph_requests_total', { tenant: tenantId, status: '503' })).toBe(
        emulated.faults.serviceUnavailableNoRetryAfter,
      );
      // Each 429 paused the tenant's lane; a 503 without Retry-After is a fault and paused nothing.
      expect(total(text, 'assignments_lane_pauses_total', { tenant: tenantId })).toBe(emulated.throttled);
    }
    const throttled = Object.values(stats.tenants).reduce((n, t) => n + t.throttled, 0);
    expect(throttled).toBeGreaterThan(0);
    // The emulator sends Retry-After with every 429.
    expect(total(text, 'assignments_retry_after_seconds_count')).toBe(throttled);
    expect(total(text, 'assignments_retry_after_seconds_bucket', { le: '+Inf' })).toBe(throttled);

    const posts = total(text, 'assignments_graph_requests_total', { method: 'POST' });
    expect(total(text, 'assignments_graph_request_duration_seconds_count', { method: 'POST' })).toBe(posts);
    expect(total(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '+Inf' })).toBe(
      posts,
    );
    expect(total(text, 'assignments_graph_request_duration_seconds_sum', { method: 'POST' })).toBeGreaterThan(0);

    for (const queue of ['assignments', 'syncs', 'events']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(
          samples(text, 'assignments_queue_jobs').filter((s) => s.labels.queue === queue && s.labels.state === state),
          `${queue} ${state}`,
        ).toHaveLength(1);
      }
      expect(total(text, 'assignments_queue_oldest_waiting_seconds', { queue })).toBe(0);
    }
    expect(total(text, 'assignments_queue_jobs', { queue: 'assignments' })).toBe(0);
    expect(total(text, 'assignments_events_received_total', { source: 'events' })).toBe(1);

    // METRICS_PORT: each worker also serves its own part, and the parts add up to the fleet's.
    let fromWorkers = 0;
    for (const w of workers) {
      const line = w
        .logs()
        .split('\n')
        .find((l) => l.includes('"msg":"serving metrics"'));
      expect(line, 'a "serving metrics" log line').toBeDefined();
      const { port } = JSON.parse(line!) as { port: number };
      const own = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      fromWorkers += total(own, 'assignments_outcomes_total');
    }
    expect(fromWorkers).toBe(rows.length);
  });

  it('keeps a worker’s counts in the totals when it stops gracefully, and counts it out of assignments_workers', async () => {
    const keys = new RedisKeys(stack.prefix);
    const before = (await scrape()).text;
    expect(total(before, 'assignments_workers')).toBe(2);
    const listed = await redis.zrange(keys.metricsWorkers(), '0', '-1');
    expect(listed).toHaveLength(2);

    expect(await workers[0]!.stop('SIGTERM')).toBe(0);
    expect(workers[0]!.logs()).not.toContain('metrics not retired');
    const after = (await scrape()).text;
    expect(total(after, 'assignments_workers')).toBe(1);
    expect(total(after, 'assignments_outcomes_total')).toBe(total(before, 'assignments_outcomes_total'));
    for (const [series, value] of workerCounts(before))
      expect(workerCounts(after).get(series), series).toBeGreaterThanOrEqual(value);

    // Its snapshot went into the retired sum with the stop: when its TTL would have run out, there
    // is nothing left to expire, and the retired sum never expires.
    const left = await redis.zrange(keys.metricsWorkers(), '0', '-1');
    expect(left).toHaveLength(1);
    const gone = listed.find((id) => !left.includes(id))!;
    expect(await redis.exists(keys.workerMetrics(gone))).toBe(0);
    expect(await redis.pttl(keys.metricsRetired())).toBe(-1);
    const later = (await scrape()).text;
    expect(total(later, 'assignments_workers')).toBe(1);
    expect(workerCounts(later)).toEqual(workerCounts(after));
  });

  it('shows the age of the oldest waiting job, and keeps the counts of every worker that stopped', async () => {
    const before = (await scrape()).text;
    // With no worker left, a row job added 42 s in the past stays waiting.
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queues.assignments.add(
      'assign',
      { rolloutId: 'none', row: 0, tenantId: randomUUID(), configurationId: randomUUID(), groupId: randomUUID() },
      { timestamp: Date.now() - 42_000 },
    );
    const { text } = await scrape();
    expect(total(text, 'assignments_queue_jobs', { queue: 'assignments', state: 'waiting' })).toBe(1);
    expect(total(text, 'assignments_queue_oldest_waiting_seconds', { queue: 'assignments' })).toBeGreaterThanOrEqual(
      42,
    );

    // Stopped gracefully, the workers left no snapshot to expire: their counts are all retired.
    const keys = new RedisKeys(stack.prefix);
    expect(await redis.exists(keys.metricsWorkers())).toBe(0);
    expect(total(text, 'assignments_workers')).toBe(0);
    expect(text).toContain('# TYPE assignments_outcomes_total counter');
    for (const [series, value] of workerCounts(before))
      expect(workerCounts(text).get(series), series).toBeGreaterThanOrEqual(value);
    expect(total(text, 'assignments_outcomes_total')).toBe(total(before, 'assignments_outcomes_total'));
  });
});

import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AssignmentsApi, CallInfo } from '../../lib/graph/assignments-api.js';
import { GraphFailure, GraphFailureCodes } from '../../lib/graph/graph-failure.js';
import { PromEventMetrics } from '../../lib/metrics/event-metrics.js';
import { scrapeFleet, type MeteredQueue } from '../../lib/metrics/fleet-metrics.js';
import { WorkerMetrics, serveWorkerMetrics } from '../../lib/metrics/worker-metrics.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';
import { LaneBoundGraph, ThrottledWait, type CallerContext } from '../../lib/lanes/lane-bound-graph.js';
import type { TenantLanes } from '../../lib/lanes/tenant-lanes.js';

/** One sample's value from Prometheus text, by metric name and exact label set (`{}` for none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (have === wanted) return Number(m[3]);
  }
  return undefined;
}

describe('WorkerMetrics', () => {
  it('counts requests by tenant, method and status, and observes their latency by method', async () => {
    const m = new WorkerMetrics();
    m.graphRequest('t1', 'POST', 201, 0.08);
    m.graphRequest('t1', 'POST', 201, 0.3);
    m.graphRequest('t1', 'POST', 'ETIMEDOUT', 3);
    m.graphRequest('t2', 'GET', 200, 0.02);
    const text = await m.registry.metrics();

    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '201' })).toBe(2);
    expect(
      sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: 'ETIMEDOUT' }),
    ).toBe(1);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't2', method: 'GET', status: '200' })).toBe(1);
    expect(sample(text, 'assignments_graph_request_duration_seconds_count', { method: 'POST' })).toBe(3);
    expect(sample(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '0.1' })).toBe(1);
    expect(sample(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '0.5' })).toBe(2);
    expect(sample(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '+Inf' })).toBe(3);
    expect(sample(text, 'assignments_graph_request_duration_seconds_sum', { method: 'POST' })).toBeCloseTo(3.38);
    expect(sample(text, 'assignments_graph_request_duration_seconds_count', { method: 'GET' })).toBe(1);
  });

  it('counts 429s and lane pauses by tenant, and Retry-After only when Graph sent one', async () => {
    const m = new WorkerMetrics();
    m.throttled('t1', 1500);
    m.throttled('t1', undefined);
    m.throttled('t2', 45_000);
    m.lanePaused('t1');
    m.lanePaused('t1');
    m.lanePaused('t2');
    const text = await m.registry.metrics();

    expect(sample(text, 'assignments_graph_throttled_total', { tenant: 't1' })).toBe(2);
    expect(sample(text, 'assignments_graph_throttled_total', { tenant: 't2' })).toBe(1);
    expect(sample(text, 'assignments_lane_pauses_total', { tenant: 't1' })).toBe(2);
    expect(sample(text, 'assignments_lane_pauses_total', { tenant: 't2' })).toBe(1);
    expect(sample(text, 'assignments_retry_after_seconds_count')).toBe(2);
    expect(sample(text, 'assignments_retry_after_seconds_sum')).toBe(46.5);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '1' })).toBe(0);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '2' })).toBe(1);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '30' })).toBe(1);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '60' })).toBe(2);
  });

  it('counts outcomes by tenant and outcome', async () => {
    const m = new WorkerMetrics();
    m.outcome('t1', 'created');
    m.outcome('t1', 'created');
    m.outcome('t1', 'failed');
    m.outcome('t2', 'already-assigned');
    const text = await m.registry.metrics();

    expect(sample(text, 'assignments_outcomes_total', { tenant: 't1', outcome: 'created' })).toBe(2);
    expect(sample(text, 'assignments_outcomes_total', { tenant: 't1', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'assignments_outcomes_total', { tenant: 't2', outcome: 'already-assigned' })).toBe(1);
  });

  it('keeps each instance to its own registry, never the global one', async () => {
    const a = new WorkerMetrics();
    const b = new WorkerMetrics();
    a.outcome('t1', 'created');
    expect(
      sample(await b.registry.metrics(), 'assignments_outcomes_total', { tenant: 't1', outcome: 'created' }),
    ).toBeUndefined();
  });

  it('serves its registry over HTTP on loopback', async () => {
    const m = new WorkerMetrics();
    m.outcome('t1', 'created');
    const server = await serveWorkerMetrics(m.registry, 0);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(sample(await res.text(), 'assignments_outcomes_total', { tenant: 't1', outcome: 'created' })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('PromEventMetrics', () => {
  it('counts received, accepted, rejected by reason and duplicates by why, on the registry it was given', async () => {
    const registry = new Registry();
    const m = new PromEventMetrics(registry);
    m.received('events');
    m.received('events');
    m.received('graph-webhook');
    m.accepted('events');
    m.rejected('events', 'bad-signature');
    m.rejected('graph-webhook', 'client-state');
    m.duplicate('events', 'replayed');
    m.duplicate('graph-webhook', 'debounced');
    expect(m.registry).toBe(registry);
    const text = await registry.metrics();

    expect(sample(text, 'assignments_events_received_total', { source: 'events' })).toBe(2);
    expect(sample(text, 'assignments_events_received_total', { source: 'graph-webhook' })).toBe(1);
    expect(sample(text, 'assignments_events_accepted_total', { source: 'events' })).toBe(1);
    expect(sample(text, 'assignments_events_rejected_total', { source: 'events', reason: 'bad-signature' })).toBe(1);
    expect(sample(text, 'assignments_events_rejected_total', { source: 'graph-webhook', reason: 'client-state' })).toBe(
      1,
    );
    expect(sample(text, 'assignments_events_duplicates_total', { source: 'events', why: 'replayed' })).toBe(1);
    expect(sample(text, 'assignments_events_duplicates_total', { source: 'graph-webhook', why: 'debounced' })).toBe(1);
  });
});

describe('scrapeFleet', () => {
  const keys = new RedisKeys('p');

  /** Just the reads a scrape makes, over an in-memory list of published snapshots. */
  function fakeRedis(snapshots: Record<string, string | null>): Redis {
    return {
      zremrangebyscore: async () => 0,
      zrange: async () => Object.keys(snapshots),
      mget: async (ks: string[]) => ks.map((k) => snapshots[k.slice(keys.workerMetrics('').length)] ?? null),
    } as unknown as Redis;
  }

  function fakeQueue(
    name: string,
    counts: Record<string, number>,
    oldest?: { timestamp: number; opts: { delay?: number } },
  ): MeteredQueue {
    return {
      name,
      getJobCounts: async () => counts,
      getJobs: async () => (oldest ? [oldest] : []),
    } as unknown as MeteredQueue;
  }

  it('sums two workers’ counters and histograms, adds the server’s registry and the queues’ gauges', async () => {
    const a = new WorkerMetrics();
    const b = new WorkerMetrics();
    a.outcome('t1', 'created');
    a.outcome('t1', 'created');
    b.outcome('t1', 'created');
    b.outcome('t2', 'failed');
    a.graphRequest('t1', 'POST', 201, 0.2);
    b.graphRequest('t1', 'POST', 201, 0.4);
    b.graphRequest('t1', 'POST', 429, 0.1);
    b.throttled('t1', 2000);
    a.throttled('t1', 7000);
    const server = new PromEventMetrics();
    server.received('events');
    const now = 1_000_000_000_000;

    const { text, contentType } = await scrapeFleet(
      {
        redis: fakeRedis({
          a: JSON.stringify(await a.registry.getMetricsAsJSON()),
          b: JSON.stringify(await b.registry.getMetricsAsJSON()),
          // Listed but expired: it stopped publishing.
          gone: null,
        }),
        keys,
        queues: [
          fakeQueue('assignments', { waiting: 5, active: 2, delayed: 1 }, { timestamp: now - 12_000, opts: {} }),
          // A schedule's job waits only from when it was due.
          fakeQueue('syncs', { waiting: 1 }, { timestamp: now - 60_000, opts: { delay: 55_000 } }),
          fakeQueue('events', {}),
        ],
        serverRegistry: server.registry,
      },
      now,
    );

    expect(contentType).toContain('text/plain');
    expect(sample(text, 'assignments_outcomes_total', { tenant: 't1', outcome: 'created' })).toBe(3);
    expect(sample(text, 'assignments_outcomes_total', { tenant: 't2', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '201' })).toBe(2);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '429' })).toBe(1);
    expect(sample(text, 'assignments_graph_throttled_total', { tenant: 't1' })).toBe(2);
    expect(sample(text, 'assignments_graph_request_duration_seconds_count', { method: 'POST' })).toBe(3);
    expect(sample(text, 'assignments_graph_request_duration_seconds_bucket', { method: 'POST', le: '0.25' })).toBe(2);
    expect(sample(text, 'assignments_graph_request_duration_seconds_sum', { method: 'POST' })).toBeCloseTo(0.7);
    expect(sample(text, 'assignments_retry_after_seconds_count')).toBe(2);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '2' })).toBe(1);
    expect(sample(text, 'assignments_retry_after_seconds_bucket', { le: '10' })).toBe(2);
    expect(sample(text, 'assignments_events_received_total', { source: 'events' })).toBe(1);
    expect(sample(text, 'assignments_workers')).toBe(2);
    expect(sample(text, 'assignments_queue_jobs', { queue: 'assignments', state: 'waiting' })).toBe(5);
    expect(sample(text, 'assignments_queue_jobs', { queue: 'assignments', state: 'active' })).toBe(2);
    expect(sample(text, 'assignments_queue_jobs', { queue: 'assignments', state: 'failed' })).toBe(0);
    expect(sample(text, 'assignments_queue_jobs', { queue: 'events', state: 'waiting' })).toBe(0);
    expect(sample(text, 'assignments_queue_oldest_waiting_seconds', { queue: 'assignments' })).toBe(12);
    expect(sample(text, 'assignments_queue_oldest_waiting_seconds', { queue: 'syncs' })).toBe(5);
    expect(sample(text, 'assignments_queue_oldest_waiting_seconds', { queue: 'events' })).toBe(0);
    // Each family once, whatever the number of workers.
    expect(text.match(/^# TYPE assignments_outcomes_total counter$/gm)).toHaveLength(1);
  });

  it('shows every worker family, zeroed, before any worker has published', async () => {
    const { text } = await scrapeFleet({ redis: fakeRedis({}), keys, queues: [], serverRegistry: new Registry() });
    expect(text).toContain('# TYPE assignments_outcomes_total counter');
    expect(text).toContain('# TYPE assignments_graph_request_duration_seconds histogram');
    expect(sample(text, 'assignments_retry_after_seconds_count')).toBe(0);
    expect(sample(text, 'assignments_workers')).toBe(0);
  });
});

describe('LaneBoundGraph instrumentation', () => {
  /** A lane that always grants at once and remembers pauses. */
  function fakeLanes(): TenantLanes & { pauses: number[] } {
    const pauses: number[] = [];
    return {
      pauses,
      admit: async () => ({ granted: true, at: Date.now(), count: 1 }),
      throttled: async (_tenant: string, ms: number) => {
        pauses.push(ms);
        return Date.now() + ms;
      },
      sentLate: async () => undefined,
      accepted: () => undefined,
    } as unknown as TenantLanes & { pauses: number[] };
  }
  const api = { prepare: async () => undefined } as unknown as AssignmentsApi;
  const ctx = (action?: 'create' | 'delete'): CallerContext => ({
    tenantId: 't1',
    owner: 'job-1',
    clientRequestId: 'c',
    action,
  });
  const marker = { key: 'm', value: 'sent|r|', ttlMs: 1000 };
  const ok = (httpStatus: number) => async (): Promise<CallInfo> => ({ httpStatus, clientRequestId: 'c' });
  const failing = (details: ConstructorParameters<typeof GraphFailure>[0]) => async (): Promise<CallInfo> => {
    throw new GraphFailure(details);
  };

  it('labels reads GET, a create row’s write POST and a delete row’s write DELETE, with their status', async () => {
    const metrics = new WorkerMetrics();
    const graph = new LaneBoundGraph(api, fakeLanes(), 100, undefined, metrics);
    await graph.call(ctx('create'), ok(200));
    await graph.call(ctx('create'), ok(201), marker);
    await graph.call(ctx('delete'), ok(204), marker);
    const text = await metrics.registry.metrics();

    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'GET', status: '200' })).toBe(1);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '201' })).toBe(1);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'DELETE', status: '204' })).toBe(1);
    expect(sample(text, 'assignments_graph_request_duration_seconds_count', { method: 'GET' })).toBe(1);
  });

  it('counts a 429 with its Retry-After and the lane pause, a lone 503 as a fault that pauses nothing, and a transport failure by its code', async () => {
    const metrics = new WorkerMetrics();
    const lanes = fakeLanes();
    const graph = new LaneBoundGraph(api, lanes, 100, undefined, metrics);
    const throttled = {
      kind: 'throttled',
      code: GraphFailureCodes.THROTTLED,
      ambiguous: true,
      message: '429',
      httpStatus: 429,
      retryAfterMs: 3000,
    } as const;
    await expect(graph.call(ctx('create'), failing(throttled), marker)).rejects.toBeInstanceOf(ThrottledWait);
    const unavailable = {
      kind: 'transient',
      code: GraphFailureCodes.UNAVAILABLE,
      ambiguous: true,
      message: '503',
      httpStatus: 503,
    } as const;
    await expect(graph.call(ctx('create'), failing(unavailable), marker)).rejects.toBeInstanceOf(GraphFailure);
    const timeout = {
      kind: 'transient',
      code: GraphFailureCodes.TIMEOUT,
      ambiguous: true,
      message: 'timeout',
      graphCode: 'ETIMEDOUT',
    } as const;
    await expect(graph.call(ctx('create'), failing(timeout), marker)).rejects.toBeInstanceOf(GraphFailure);
    const text = await metrics.registry.metrics();

    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '429' })).toBe(1);
    expect(sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: '503' })).toBe(1);
    expect(
      sample(text, 'assignments_graph_requests_total', { tenant: 't1', method: 'POST', status: 'ETIMEDOUT' }),
    ).toBe(1);
    expect(sample(text, 'assignments_graph_throttled_total', { tenant: 't1' })).toBe(1);
    expect(sample(text, 'assignments_retry_after_seconds_sum')).toBe(3);
    expect(sample(text, 'assignments_lane_pauses_total', { tenant: 't1' })).toBe(1);
    expect(lanes.pauses).toHaveLength(1);
  });

  it('works without metrics, as the sync command uses it', async () => {
    const graph = new LaneBoundGraph(api, fakeLanes(), 100);
    await expect(graph.call(ctx(), ok(200))).resolves.toMatchObject({ value: { httpStatus: 200 } });
  });
});

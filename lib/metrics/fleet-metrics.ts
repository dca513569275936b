import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { AggregatorRegistry, Gauge, Registry, type PrometheusContentType } from 'prom-client';
import type { RedisKeys } from '../redis/redis-keys.js';
import { WorkerMetrics } from './worker-metrics.js';

/** The BullMQ states worth watching; `completed` stays 0 for queues that remove finished jobs. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;

/**
 * Workers missing from the list's scores this long are trimmed from it. Liveness itself is the
 * snapshot key's TTL (Redis's clock); this bound only collects leftovers, and is generous so a
 * worker whose clock runs behind the server's is never trimmed while alive.
 */
const TRIM_AFTER_MS = 10 * 60_000;

/** The metric types a retired worker's counts keep (see `summable`). */
const SUMMABLE_TYPES = new Set(['counter', 'histogram']);

/** A registry's metrics as `registry.getMetricsAsJSON()` gives them: what workers publish. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * The families of a snapshot that may be added across processes that are gone: counters and
 * histograms, whose counts stay true once their process stops. A gauge is a reading of the moment
 * (and a summary's quantiles do not add up), so a dead worker's must not linger in the sums.
 */
export function summable(metrics: MetricsJson): MetricsJson {
  // The JSON carries the type's name ('counter'), whatever prom-client's typings (an enum) say.
  return metrics.filter((m) => SUMMABLE_TYPES.has(String(m.type)));
}

/** The part of a BullMQ queue a scrape reads. */
export type MeteredQueue = Pick<Queue, 'name' | 'getJobCounts' | 'getJobs'>;

export interface FleetSources {
  redis: Redis;
  keys: RedisKeys;
  /** Labelled by their names (assignments, syncs, events). */
  queues: readonly MeteredQueue[];
  /** The server's own metrics (the event intake's counters). */
  serverRegistry: Registry;
}

export interface FleetScrape {
  text: string;
  contentType: string;
}

/**
 * One scrape for the whole fleet: every live worker's snapshot (see metrics-publisher.ts) and the
 * retired workers' counts added up by prom-client's cluster aggregator (counters and histograms
 * summed), the server's registry, and the queues' state read at scrape time.
 */
export async function scrapeFleet(sources: FleetSources, nowMs = Date.now()): Promise<FleetScrape> {
  const [{ live, retired }, queueGauges] = await Promise.all([
    workerSnapshots(sources.redis, sources.keys, nowMs),
    queueRegistry(sources.queues, nowMs),
  ]);
  // An empty set of this version's worker metrics goes in first: the families are always there
  // (HELP and TYPE, zeroed histograms) even before any worker publishes.
  const template = await new WorkerMetrics().registry.getMetricsAsJSON();
  const workers = AggregatorRegistry.aggregate<PrometheusContentType>([template, ...live, summable(retired)]);
  // Live workers only: the retired ones' counts are in the sums, but they are not running.
  new Gauge({
    name: 'assignments_workers',
    help: 'Worker processes whose metrics are live in Redis.',
    registers: [queueGauges],
  }).set(live.length);
  const merged = Registry.merge([workers, sources.serverRegistry, queueGauges]);
  return { text: await merged.metrics(), contentType: merged.contentType };
}

/** The live workers' snapshots, and the retired workers' summed counts (empty when none). */
async function workerSnapshots(
  redis: Redis,
  keys: RedisKeys,
  nowMs: number,
): Promise<{ live: MetricsJson[]; retired: MetricsJson }> {
  const list = keys.metricsWorkers();
  await redis.zremrangebyscore(list, '-inf', String(nowMs - TRIM_AFTER_MS));
  const ids = await redis.zrange(list, '0', '-1');
  // One MGET, so one moment, for the live snapshots and the retired sum: a worker that stops moves
  // its counts from its own key to the retired one atomically (MetricsPublisher.stop), so this read
  // sees them exactly once, before or after the move. A worker listed after ZRANGE was read is
  // missing from this scrape (its counts only add to the next one).
  const values = await redis.mget([...ids.map((id) => keys.workerMetrics(id)), keys.metricsRetired()]);
  const retired = parseSnapshot(values.pop() ?? null) ?? [];
  const live: MetricsJson[] = [];
  for (const value of values) {
    // Expired, or retired: the worker stopped publishing (stopped, killed, or cut off from Redis).
    const snapshot = parseSnapshot(value);
    if (snapshot) live.push(snapshot);
  }
  return { live, retired };
}

function parseSnapshot(value: string | null): MetricsJson | undefined {
  if (value === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? (parsed as MetricsJson) : undefined;
  } catch {
    // A torn or foreign value must not cost the whole scrape; that worker is missing from it.
    return undefined;
  }
}

async function queueRegistry(queues: readonly MeteredQueue[], nowMs: number): Promise<Registry> {
  const registry = new Registry();
  const jobs = new Gauge({
    name: 'assignments_queue_jobs',
    help: 'Jobs in each BullMQ queue, by state.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
  });
  const oldest = new Gauge({
    name: 'assignments_queue_oldest_waiting_seconds',
    help: 'Age of the job next in line in the waiting state (0 when none), counted from when it was first due.',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  await Promise.all(
    queues.map(async (queue) => {
      const [counts, next] = await Promise.all([
        queue.getJobCounts(...JOB_STATES),
        queue.getJobs(['waiting'], 0, 0, true),
      ]);
      for (const state of JOB_STATES) jobs.set({ queue: queue.name, state }, counts[state] ?? 0);
      const job = next[0];
      // A job first due later than it was added (a schedule's next run) has waited only since then.
      // A row back from the delayed set (a lane wait, a retry) still counts from when it was added:
      // BullMQ keeps no time of that move.
      const dueAt = job ? job.timestamp + (job.opts.delay ?? 0) : nowMs;
      oldest.set({ queue: queue.name }, Math.max(0, nowMs - dueAt) / 1000);
    }),
  );
  return registry;
}

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import type { Config } from '../lib/config.js';
import { requireGraphCredentials } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { checkRedisAnswers, connectRedis } from '../lib/redis/redis-connection.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { SYNC_QUEUE_NAME, openSyncQueue, type SyncJobData } from '../lib/queues/sync-queue.js';
import { SyncSchedules } from '../producer/sync-schedules.js';
import { RedisKeys } from '../lib/redis/redis-keys.js';
import { connectGraph } from '../lib/graph/graph-connection.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { TenantLanes } from '../lib/lanes/tenant-lanes.js';
import { LaneBoundGraph } from '../lib/lanes/lane-bound-graph.js';
import { AssignmentProcessor } from '../worker/assignment-processor.js';
import { startRowWorker } from '../worker/row-worker.js';
import { ScheduledSync } from '../producer/scheduled-sync.js';
import { EventProcessor } from '../producer/event-processor.js';
import { EVENTS_QUEUE_NAME, type EventJobData } from '../lib/queues/event-queue.js';
import { WorkerMetrics, serveWorkerMetrics } from '../lib/metrics/worker-metrics.js';
import { MetricsPublisher } from '../lib/metrics/metrics-publisher.js';

/** Scheduled syncs run at once per worker process (each mostly waits for its reads' lane slots). */
const SYNC_CONCURRENCY = 2;
/** Event jobs at once per worker process (each is a group read at most, then an enqueue). */
const EVENT_CONCURRENCY = 4;

export interface RunningWorker {
  /** Stop taking jobs, let in-flight ones finish (or hand them back at the deadline), disconnect. */
  stop(): Promise<void>;
}

/**
 * One worker process (`assignments worker`): the row worker (worker/row-worker.ts) beside the
 * processors that turn scheduled syncs and events into rollouts (producer/), sharing one set of
 * tenant lanes, one Graph client and one metrics registry. It lives in cli/ because only the
 * applications may use both worker/ and producer/. Any number of these, on any number of machines,
 * share the queue, the lanes and the outcomes through Redis.
 */
export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  requireGraphCredentials(config);
  // Credentials first: a bad certificate path is a configuration error whether Redis answers or not.
  const api = connectGraph(config, config.workerConcurrency + 8);
  const keys = new RedisKeys(config.queuePrefix);
  // The rows' connection: with a few dozen rows in flight, the commands they issue in one turn of the
  // event loop leave in one write (a syscall and a Redis wake-up each saved). Never BullMQ's Worker
  // connections: a blocking command would hold up the batch behind it.
  const redis = connectRedis(config.redisUrl, 'worker', { enableAutoPipelining: true });
  const bullConnection = connectRedis(config.redisUrl, 'worker');
  const syncConnection = connectRedis(config.redisUrl, 'worker');
  const eventConnection = connectRedis(config.redisUrl, 'worker');
  // BullMQ defines its sixty-odd scripts on the connection of each Queue it is given, and ioredis
  // copies every script defined on a connection into each pipeline made from it (70 µs instead of
  // 8 per pipeline): the rows' own connection stays free of them.
  const queueConnection = connectRedis(config.redisUrl, 'worker');
  const connections = [redis, bullConnection, syncConnection, eventConnection, queueConnection];
  // ioredis reconnects by itself; say so once per failed try instead of an unhandled-error trace.
  for (const connection of connections)
    connection.on('error', (err: Error) => logger.warn({ err }, 'Redis connection error; reconnecting'));
  try {
    await checkRedisAnswers(redis, config.redisUrl, 10_000);
  } catch (err) {
    for (const connection of connections) connection.disconnect();
    throw err;
  }
  const lanes = new TenantLanes(redis, keys, config.rateLimit);
  const shutdown = new AbortController();
  const metrics = new WorkerMetrics();
  const graph = new LaneBoundGraph(api, lanes, config.retryBaseDelayMs, shutdown.signal, metrics);
  const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
  const processor = new AssignmentProcessor({
    redis,
    keys,
    store,
    graph,
    retentionMs: config.outcomeRetentionMs,
    requestTimeoutMs: config.graphTimeoutMs,
    logger,
    metrics,
    policy: {
      maxAttempts: config.retryMaxAttempts,
      maxAgeMs: config.retryMaxAgeMs,
      baseDelayMs: config.retryBaseDelayMs,
      settleMs: config.graphSettleMs,
    },
  });

  const worker = startRowWorker(processor, {
    connection: bullConnection,
    prefix: config.queuePrefix,
    concurrency: config.workerConcurrency,
    lockMs: config.workerLockMs,
    baseDelayMs: config.retryBaseDelayMs,
    logger,
  });

  // Scheduled syncs (`assignments schedule add`) fire into their own queue; any worker runs them.
  const rowQueue = openQueue(queueConnection, config.queuePrefix);
  const syncQueue = openSyncQueue(queueConnection, config.queuePrefix);
  const scheduledSync = new ScheduledSync({
    redis,
    keys,
    store,
    queue: rowQueue,
    schedules: new SyncSchedules(redis, syncQueue, config.queuePrefix),
    graph,
    readAttempts: config.retryMaxAttempts,
    baseDelayMs: config.retryBaseDelayMs,
    signal: shutdown.signal,
    logger,
  });
  const syncWorker = new Worker<SyncJobData>(SYNC_QUEUE_NAME, (job: Job<SyncJobData>) => scheduledSync.process(job), {
    connection: syncConnection,
    prefix: config.queuePrefix,
    concurrency: SYNC_CONCURRENCY,
    lockDuration: config.workerLockMs,
  });
  syncWorker.on('error', (err) => logger.error({ err }, 'sync worker error'));

  // Events accepted by `assignments serve` (HR events, Graph change notifications).
  const eventProcessor = new EventProcessor({
    store,
    queue: rowQueue,
    graph,
    readAttempts: config.retryMaxAttempts,
    baseDelayMs: config.retryBaseDelayMs,
    signal: shutdown.signal,
    logger,
  });
  const eventWorker = new Worker<EventJobData>(
    EVENTS_QUEUE_NAME,
    (job: Job<EventJobData>) => eventProcessor.process(job),
    {
      connection: eventConnection,
      prefix: config.queuePrefix,
      concurrency: EVENT_CONCURRENCY,
      lockDuration: config.workerLockMs,
    },
  );
  eventWorker.on('error', (err) => logger.error({ err }, 'event worker error'));
  eventWorker.on('failed', (job, err) =>
    logger.warn(
      { err, jobId: job?.id, attemptsMade: job?.attemptsMade },
      'event job failed; BullMQ retries it while attempts remain',
    ),
  );
  await Promise.all([worker.waitUntilReady(), syncWorker.waitUntilReady(), eventWorker.waitUntilReady()]);
  // Unique per process run: a restarted worker must not add its fresh counts into its old snapshot's slot.
  const publisher = new MetricsPublisher(
    redis,
    keys,
    `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    metrics.registry,
    { logger },
  );
  await publisher.start();
  let metricsServer: Awaited<ReturnType<typeof serveWorkerMetrics>> | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metricsServer = await serveWorkerMetrics(metrics.registry, config.metricsPort);
      logger.info(
        { port: metricsServer.port, url: `http://127.0.0.1:${metricsServer.port}/metrics` },
        'serving metrics',
      );
    } catch (err) {
      // The fleet's metrics still reach the server through Redis; not worth refusing rows over.
      logger.warn({ err, port: config.metricsPort }, 'cannot serve METRICS_PORT; metrics go through Redis only');
    }
  }
  logger.info(
    {
      concurrency: config.workerConcurrency,
      queuePrefix: config.queuePrefix,
      rateLimit: config.rateLimit ?? 'learned',
    },
    'worker started',
  );

  return {
    async stop() {
      shutdown.abort();
      const deadline = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref(),
      );
      const closed = Promise.all([worker.close(), syncWorker.close(), eventWorker.close()]).then(
        () => 'closed' as const,
      );
      if ((await Promise.race([closed, deadline])) === 'timeout') {
        // In-flight rows keep their lock until it expires; another worker re-runs them then, and
        // their markers make the re-run check before posting.
        logger.warn('shutdown deadline reached; handing in-flight rows back');
        await Promise.all([worker.close(true), syncWorker.close(true), eventWorker.close(true)]);
      }
      await Promise.allSettled([publisher.stop(), metricsServer?.close(), rowQueue.close(), syncQueue.close()]);
      await Promise.allSettled(connections.map((c) => c.quit()));
      logger.info('worker stopped');
    },
  };
}

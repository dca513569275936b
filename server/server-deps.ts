import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';
import type { SyncJobData } from '../lib/queues/sync-queue.js';
import type { EventJobData } from '../lib/queues/event-queue.js';
import type { EventMetrics } from '../lib/metrics/event-metrics.js';

/** What the operations server's routes share: one Redis connection, the queues, the store. */
export interface ServerDeps {
  config: Config;
  logger: Logger;
  /** For commands (never blocking ones). */
  redis: Redis;
  keys: RedisKeys;
  store: RolloutStore;
  queues: {
    assignments: Queue<AssignmentJobData>;
    syncs: Queue<SyncJobData>;
    events: Queue<EventJobData>;
  };
  /** Counters of the event intake (received, accepted, rejected by reason, duplicates). */
  eventMetrics: EventMetrics;
}

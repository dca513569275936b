import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { AssignmentJobData } from '../queue.js';
import type { RedisKeys } from '../redis-keys.js';
import type { RolloutStore } from '../rollout/rollout-store.js';
import type { SyncJobData } from '../../producer/sync-schedules.js';
import type { EventJobData } from '../../producer/event-queue.js';
import type { EventMetrics } from '../metrics/event-metrics.js';

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

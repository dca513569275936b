import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface DesiredConfiguration {
  configurationId: string;
  /** Normalized, each once, in order of first appearance; empty means "no group assignments". */
  groups: string[];
}

export interface DesiredTenant {
  tenantId: string;
  configurations: DesiredConfiguration[];
}

export interface DesiredState {
  tenants: DesiredTenant[];
}

export interface SyncOptions {
  /** Also delete extra and duplicate assignments. */
  prune: boolean;
  /** Prune even past the threshold. */
  force: boolean;
  /** Most of a configuration's assignments one prune may remove, in percent. */
  pruneThresholdPercent: number;
}

/** The BullMQ queue scheduled syncs fire into; every worker process also works this queue. */
export const SYNC_QUEUE_NAME = 'syncs';

/**
 * A scheduled sync's job: the whole desired state as it was at `schedule add`, so a worker on any
 * machine can run it without the file. Ids only; no secret.
 */
export interface SyncJobData extends SyncOptions {
  schedule: string;
  /** The file it was added from, for display. */
  source: string;
  desired: DesiredState;
}

/** Scheduled sync jobs keep their failures a while for inspection; successes go at once. */
export const SYNC_JOB_OPTIONS = { attempts: 1, removeOnComplete: true, removeOnFail: 100 } as const;

export function openSyncQueue(connection: Redis, prefix: string): Queue<SyncJobData> {
  return new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection, prefix });
}

/**
 * Every Redis key of ours, in one place. All start with QUEUE_PREFIX so deployments can share a
 * Redis; BullMQ's own keys live under `${prefix}:${QUEUE_NAME}:…`.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** Hash: the rollout's metadata and outcome counters. */
  rollout(rolloutId: string): string {
    return `${this.prefix}:rollout:${rolloutId}`;
  }
  /** List: the rollout's row keys in input order (the report's order). */
  rolloutRows(rolloutId: string): string {
    return `${this.prefix}:rollout:${rolloutId}:rows`;
  }
  /** Hash: row key -> outcome JSON. */
  rolloutOutcomes(rolloutId: string): string {
    return `${this.prefix}:rollout:${rolloutId}:outcomes`;
  }
  /** Hash: row key -> JSON array of the row's earlier outcomes (before each `retry`). */
  rolloutHistory(rolloutId: string): string {
    return `${this.prefix}:rollout:${rolloutId}:history`;
  }
  /** Hash: row key -> requests sent to Graph for that row so far. */
  rolloutAttempts(rolloutId: string): string {
    return `${this.prefix}:rollout:${rolloutId}:attempts`;
  }
  /** Sorted set: rollout ids by creation time. */
  rollouts(): string {
    return `${this.prefix}:rollouts`;
  }
  /** Hash: a tenant lane's pacing state (pause, learned budget, sends since it resumed). */
  lane(tenantId: string): string {
    return `${this.prefix}:lane:${tenantId}`;
  }
  /** Sorted set: a tenant lane's sends (`owner@grantMs`) and promised slots (`owner`), scored by time. */
  laneSchedule(tenantId: string): string {
    return `${this.prefix}:lane:${tenantId}:schedule`;
  }
  /**
   * String: what we know of a (tenant, configuration, group) assignment across rollouts:
   * `sent|<rolloutId>|<ms>` (a POST left and may be on its way), `ended|<rolloutId>|<ms>` (it ended
   * without a clear answer) or `assigned|<assignmentId>` (see worker/row-marker.ts).
   */
  rowMarker(rowKey: string): string {
    return `${this.prefix}:marker:${rowKey}`;
  }
  /**
   * Hash: a configuration's assignments as last read from Graph (groupId -> assignmentId), with the
   * time that read started; shared by rollouts and workers (see ConfigurationListings).
   */
  listing(tenantId: string, configurationId: string): string {
    return `${this.prefix}:listing:${tenantId}:${configurationId}`;
  }
  /** String: the job reading that listing now (the others wait for it). */
  listingLock(tenantId: string, configurationId: string): string {
    return `${this.listing(tenantId, configurationId)}:lock`;
  }
  /** Hash: a listing being written, renamed into place when complete. */
  listingStaging(tenantId: string, configurationId: string, owner: string): string {
    return `${this.listing(tenantId, configurationId)}:staging:${owner}`;
  }
  /** Set: names of the scheduled syncs (`schedule add`). */
  schedules(): string {
    return `${this.prefix}:schedules`;
  }
  /** Hash: a scheduled sync's metadata and how its last run went (BullMQ keeps its timing and job template). */
  schedule(name: string): string {
    return `${this.prefix}:schedule:${name}`;
  }
  /** String: the run of that schedule in progress; two runs of one schedule never overlap. */
  scheduleLock(name: string): string {
    return `${this.prefix}:schedule:${name}:lock`;
  }
  /** String: one worker process's metrics (prom-client JSON), expiring when the worker stops publishing. */
  workerMetrics(workerId: string): string {
    return `${this.prefix}:metrics:worker:${workerId}`;
  }
  /** Sorted set: ids of the workers publishing metrics, scored by their last publish time. */
  metricsWorkers(): string {
    return `${this.prefix}:metrics:workers`;
  }
  /**
   * String: the summed counters and histograms (prom-client JSON) of the workers that stopped
   * gracefully, so the fleet's totals do not drop when one goes; never expires.
   */
  metricsRetired(): string {
    return `${this.prefix}:metrics:retired`;
  }
  /** String: an event id `POST /events` has accepted (a redelivery is acknowledged and ignored). */
  seenEvent(eventId: string): string {
    return `${this.prefix}:event:${eventId}`;
  }
}

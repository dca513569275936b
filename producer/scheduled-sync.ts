import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import { ifValueUnchanged } from '../lib/redis/if-value-unchanged.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';
import { applySync, planSync, readDrift, type SyncPlan } from './desired-state-sync.js';
import { LaneAssignmentReader } from './lane-assignment-reader.js';
import { enqueueRolloutOnce, rolloutIdFor } from './rollout-once.js';
import type { SyncJobData } from '../lib/queues/sync-queue.js';
import type { ScheduleRun, SyncSchedules } from './sync-schedules.js';
import type { LaneBoundGraph } from '../lib/lanes/lane-bound-graph.js';

export interface ScheduledSyncDeps {
  redis: Redis;
  keys: RedisKeys;
  store: RolloutStore;
  queue: Queue<AssignmentJobData>;
  schedules: SyncSchedules;
  graph: LaneBoundGraph;
  /** RETRY_MAX_ATTEMPTS and RETRY_BASE_DELAY_MS, for the reads. */
  readAttempts: number;
  baseDelayMs: number;
  signal?: AbortSignal;
  logger: Logger;
}

/** The run lock outlives a dead worker by this much; a live one renews it every third of it. */
const LOCK_MS = 60_000;

/**
 * One run of a scheduled sync (a job the schedule's BullMQ job scheduler fired): read every
 * configuration of the stored desired state through the tenants' lanes, compare, and apply the
 * drift as a rollout like `assignments sync` does. The outcome of the run is recorded with the
 * schedule for `schedule list`.
 *
 * Two runs of one schedule never overlap: a run holds the schedule's lock while it reads and
 * enqueues, and does not start while the rollout of the previous run still has rows to do, since
 * reading then would take queued creates for missing assignments and queue them again.
 */
export class ScheduledSync {
  constructor(private readonly deps: ScheduledSyncDeps) {}

  async process(job: Job<SyncJobData>): Promise<ScheduleRun> {
    const { redis, keys, logger } = this.deps;
    const name = job.data.schedule;
    const lock = keys.scheduleLock(name);
    const owner = job.id ?? name;
    const log = logger.child({ schedule: name, jobId: job.id });
    if ((await redis.set(lock, owner, 'PX', LOCK_MS, 'NX')) !== 'OK' && (await redis.get(lock)) !== owner) {
      return this.finish(name, log, {
        result: 'skipped',
        message: 'the previous run of this schedule is still reading',
        rolloutId: null,
      });
    }
    const renew = setInterval(
      () => void ifValueUnchanged(redis, lock, owner, { action: 'pexpire', ttlMs: LOCK_MS }).catch(() => undefined),
      LOCK_MS / 3,
    );
    try {
      return await this.run(job, log);
    } catch (err) {
      await this.finish(name, log, { result: 'failed', message: (err as Error).message, rolloutId: null });
      throw err;
    } finally {
      clearInterval(renew);
      await ifValueUnchanged(redis, lock, owner, { action: 'del' }).catch(() => undefined);
    }
  }

  private async run(job: Job<SyncJobData>, log: Logger): Promise<ScheduleRun> {
    const { store, schedules } = this.deps;
    const d = job.data;
    const name = d.schedule;
    // Derived from the job, so a re-run of this job (its worker died) finds the rollout it made.
    const rolloutId = rolloutIdFor('scheduled-sync', job.id ?? `${name}-${job.timestamp}`);
    if (await store.status(rolloutId)) {
      const { resumed } = await enqueueRolloutOnce(rolloutId, [], { queue: this.deps.queue, store }, { source: '' });
      return this.finish(name, log, {
        result: 'rollout',
        message: `rollout ${rolloutId} resumed after an interrupted run (${resumed ?? 0} rows re-queued)`,
        rolloutId,
      });
    }
    const last = await schedules.lastRolloutId(name);
    if (last) {
      const previous = await store.status(last);
      if (previous?.state === 'running') {
        return this.finish(name, log, {
          result: 'skipped',
          message: `the rollout of the previous run (${last}) still has ${previous.pending} rows to do`,
          rolloutId: null,
        });
      }
    }

    const reader = new LaneAssignmentReader(this.deps.graph, {
      maxAttempts: this.deps.readAttempts,
      baseDelayMs: this.deps.baseDelayMs,
      signal: this.deps.signal,
    });
    const plan = planSync(await readDrift(d.desired, reader, this.deps.graph.api.kind), d);
    const problems = readProblems(plan);
    if (plan.decision.kind === 'refused') {
      const list = plan.decision.refused
        .map((c) => `${c.configurationId} in ${c.tenantId}: ${c.wouldDelete} of ${c.existingAssignments}`)
        .join('; ');
      return this.finish(name, log, {
        result: 'refused',
        message: `prune refused: more than ${d.pruneThresholdPercent}% would be deleted (${list}); nothing was written${problems}`,
        rolloutId: null,
      });
    }
    const rollout = await applySync(
      plan,
      d,
      { queue: this.deps.queue, store },
      { name, source: `schedule ${name} (${d.source})`, rolloutId },
    );
    if (!rollout || plan.decision.kind !== 'apply') {
      return this.finish(name, log, {
        result: 'no-drift',
        message: `no drift in ${plan.drift.summary.configurations} configurations; nothing was written${problems}`,
        rolloutId: null,
      });
    }
    const { creates, deletes } = plan.decision;
    return this.finish(name, log, {
      result: 'rollout',
      message: `rollout ${rollout.rolloutId}: ${creates} to create, ${deletes} to delete${problems}`,
      rolloutId: rollout.rolloutId,
    });
  }

  private async finish(name: string, log: Logger, run: Omit<ScheduleRun, 'at'>): Promise<ScheduleRun> {
    const done: ScheduleRun = { at: new Date().toISOString(), ...run };
    await this.deps.schedules.recordRun(name, done);
    log[run.result === 'failed' || run.result === 'refused' ? 'error' : 'info'](
      { result: run.result, rolloutId: run.rolloutId },
      `scheduled sync: ${run.message}`,
    );
    return done;
  }
}

function readProblems(plan: SyncPlan): string {
  const s = plan.drift.summary;
  const parts: string[] = [];
  if (s.configurationNotFound) parts.push(`${s.configurationNotFound} configuration(s) not found`);
  if (s.unreadable) parts.push(`${s.unreadable} configuration(s) unreadable, left out`);
  return parts.length ? `; ${parts.join(', ')}` : '';
}

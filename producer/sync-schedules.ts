import type { Queue } from 'bullmq';
import { SYNC_JOB_OPTIONS, type SyncJobData } from '../lib/queues/sync-queue.js';
import type { Redis } from 'ioredis';
import { CronExpressionParser } from 'cron-parser';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { RedisKeys } from '../lib/redis/redis-keys.js';
import { desiredStateCounts } from './desired-state-file.js';

/** When a schedule fires: a cron pattern (with an optional time zone) or a fixed interval. */
export type ScheduleTiming = { cron: string; tz?: string } | { everyMs: number };

/** How the last run of a schedule ended. */
export type ScheduleRunResult =
  /** It found drift and enqueued a rollout (`rolloutId`). */
  | 'rollout'
  /** Intune matched the file: nothing was written. */
  | 'no-drift'
  /** --prune would have removed more than the threshold: nothing was written. */
  | 'refused'
  /** It did not run: the previous run (or its rollout) was still going. */
  | 'skipped'
  | 'failed';

export interface ScheduleRun {
  at: string;
  result: ScheduleRunResult;
  /** One line: what it did or why not. */
  message: string;
  rolloutId: string | null;
}

export interface ScheduleInfo {
  name: string;
  cron: string | null;
  tz: string | null;
  everyMs: number | null;
  /** Next time it fires (ISO), if BullMQ has it planned. */
  nextRunAt: string | null;
  source: string;
  addedAt: string;
  prune: boolean;
  force: boolean;
  pruneThresholdPercent: number;
  tenants: number;
  configurations: number;
  groups: number;
  runs: number;
  lastRun: ScheduleRun | null;
}

/** A schedule's name: it appears in commands, job ids and Redis keys. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks a schedule's name and timing; throws UserError (exit 2) naming what is wrong. */
export function validateSchedule(name: string, timing: ScheduleTiming): void {
  if (!NAME.test(name)) {
    throw new UserError(
      ErrorCodes.USAGE,
      `schedule name ${JSON.stringify(name)}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  if ('everyMs' in timing) {
    if (!Number.isSafeInteger(timing.everyMs) || timing.everyMs < 1000)
      throw new UserError(ErrorCodes.USAGE, `--every: at least 1s`);
    return;
  }
  if (timing.tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timing.tz });
    } catch {
      throw new UserError(
        ErrorCodes.USAGE,
        `--tz ${JSON.stringify(timing.tz)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`,
      );
    }
  }
  try {
    // BullMQ parses the pattern with the same library when it plans the next run.
    CronExpressionParser.parse(timing.cron, { tz: timing.tz, strict: false }).next();
  } catch (err) {
    throw new UserError(
      ErrorCodes.USAGE,
      `--cron ${JSON.stringify(timing.cron)} is not a cron pattern (${(err as Error).message}); e.g. "0 2 * * *" is 02:00 every day, a sixth leading field counts seconds`,
    );
  }
}

/** `--every 10m`: a number with s, m, h or d (or plain seconds). */
export function parseEvery(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new UserError(
      ErrorCodes.USAGE,
      `--every ${JSON.stringify(text)}: expected a duration like 30s, 10m, 1h or 1d`,
    );
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(m[1]) * unit);
}

/**
 * Scheduled syncs: each is a BullMQ job scheduler on the `syncs` queue whose job template carries
 * the desired state, plus a small hash of ours for what BullMQ does not keep (where the file came
 * from, when it was added, how the last run went).
 */
export class SyncSchedules {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue<SyncJobData>,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
  }

  /** Adds the schedule, or replaces the one of that name (its run history is kept). */
  async add(name: string, timing: ScheduleTiming, job: Omit<SyncJobData, 'schedule'>): Promise<ScheduleInfo> {
    validateSchedule(name, timing);
    const counts = desiredStateCounts(job.desired);
    const repeat =
      'everyMs' in timing
        ? { every: timing.everyMs }
        : { pattern: timing.cron, ...(timing.tz ? { tz: timing.tz } : {}) };
    await this.queue.upsertJobScheduler(name, repeat, {
      name: 'sync',
      data: { ...job, schedule: name },
      opts: SYNC_JOB_OPTIONS,
    });
    await this.redis
      .multi()
      .hset(this.keys.schedule(name), {
        name,
        source: job.source,
        addedAt: new Date().toISOString(),
        prune: job.prune ? '1' : '0',
        force: job.force ? '1' : '0',
        pruneThresholdPercent: String(job.pruneThresholdPercent),
        tenants: counts.tenants,
        configurations: counts.configurations,
        groups: counts.groups,
      })
      .sadd(this.keys.schedules(), name)
      .exec();
    return (await this.get(name))!;
  }

  async get(name: string): Promise<ScheduleInfo | null> {
    const scheduler = await this.queue.getJobScheduler(name);
    if (!scheduler) return null;
    const h = await this.redis.hgetall(this.keys.schedule(name));
    return infoOf(name, scheduler, h);
  }

  /** Every schedule, by name. */
  async list(): Promise<ScheduleInfo[]> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    const infos: ScheduleInfo[] = [];
    for (const s of schedulers) {
      const name = s.key;
      infos.push(infoOf(name, s, await this.redis.hgetall(this.keys.schedule(name))));
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Removes the schedule and its planned run (a run in progress finishes). Throws when unknown. */
  async remove(name: string): Promise<void> {
    const removed = await this.queue.removeJobScheduler(name);
    const known = (await this.redis.srem(this.keys.schedules(), name)) === 1;
    await this.redis.del(this.keys.schedule(name));
    if (!removed && !known)
      throw new UserError(ErrorCodes.SCHEDULE_NOT_FOUND, `no schedule named ${JSON.stringify(name)}`);
  }

  /** Records how a run ended (shown by `schedule list`). */
  async recordRun(name: string, run: ScheduleRun): Promise<void> {
    const key = this.keys.schedule(name);
    // A run that ends after its schedule was removed leaves no orphan hash behind.
    if ((await this.redis.sismember(this.keys.schedules(), name)) !== 1) return;
    const tx = this.redis
      .multi()
      .hset(key, {
        lastRunAt: run.at,
        lastResult: run.result,
        lastMessage: run.message,
        lastRunRolloutId: run.rolloutId ?? '',
      })
      .hincrby(key, 'runs', 1);
    // The latest rollout a run made stays until another run makes one: a run that was skipped or
    // found no drift must not hide a rollout that is still going from the next run's check.
    if (run.rolloutId) tx.hset(key, 'lastRolloutId', run.rolloutId);
    await tx.exec();
  }

  /** The rollout of the latest run that made one, if any. */
  async lastRolloutId(name: string): Promise<string | null> {
    return (await this.redis.hget(this.keys.schedule(name), 'lastRolloutId')) || null;
  }
}

function infoOf(
  name: string,
  s: { pattern?: string | null; tz?: string | null; every?: number | string | null; next?: number | string | null },
  h: Record<string, string>,
): ScheduleInfo {
  const n = (field: string) => Number(h[field] ?? 0) || 0;
  const every = s.every !== undefined && s.every !== null ? Number(s.every) : null;
  const next = s.next !== undefined && s.next !== null ? Number(s.next) : null;
  return {
    name,
    cron: s.pattern ?? null,
    tz: s.tz ?? null,
    everyMs: every,
    nextRunAt: next ? new Date(next).toISOString() : null,
    source: h.source ?? '',
    addedAt: h.addedAt ?? '',
    prune: h.prune === '1',
    force: h.force === '1',
    pruneThresholdPercent: n('pruneThresholdPercent'),
    tenants: n('tenants'),
    configurations: n('configurations'),
    groups: n('groups'),
    runs: n('runs'),
    lastRun: h.lastRunAt
      ? {
          at: h.lastRunAt,
          result: (h.lastResult ?? 'failed') as ScheduleRunResult,
          message: h.lastMessage ?? '',
          rolloutId: h.lastRunRolloutId || null,
        }
      : null,
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import type { Assignment } from '../lib/graph/assignment.js';
import type { AssignmentsApi } from '../lib/graph/assignments-api.js';
import { GraphFailure, GraphFailureCodes } from '../lib/graph/graph-failure.js';
import { backoffDelayMs } from '../lib/lanes/backoff.js';
import type { LaneBoundGraph, CallerContext } from '../lib/lanes/lane-bound-graph.js';
import { LaneWait } from '../lib/lanes/lane-gate.js';
import { retryWith } from '../lib/retry/retry-with.js';

/** A configuration's assignments as read from Graph at some moment, shared by every worker. */
export type ListingView =
  | { state: 'fresh'; assignmentId: string | null }
  | { state: 'missing'; failure: ListingFailure }
  /** No listing, or one that started before the moment the caller needs. */
  | { state: 'stale' };

export interface ListingFailure {
  httpStatus: number | null;
  errorCode: string | null;
  message: string;
  requestId: string | null;
  code: string;
}

/** Hash fields beside the groupId -> assignmentId entries (no GUID can collide with them). */
export const LISTING_FIELDS = { status: '_status', startedAt: '_startedAt' } as const;

const LISTING_TTL_MS = 60 * 60 * 1000;
/** Short, and renewed after every page: a reader that dies holds the others back only briefly. */
const LOCK_TTL_MS = 10_000;
/** A page read may wait this long in place for its lane slot rather than start over later. */
const PAGE_WAIT_MS = 30_000;
/**
 * How long a row waits in place for another job's read of the listing before it is parked. A page
 * takes tens of milliseconds, or a retry or two when Graph faults on it: wait for that here, not
 * parked in BullMQ's delayed set for longer than the read takes.
 */
const WAIT_IN_PLACE_MS = 1_000;
const LOCK_POLL_MS = 25;

/** Back in 200 to 500 ms: spread, so the parked rows of a configuration do not all come back at once. */
function parked(): LaneWait {
  return new LaneWait(Date.now() + 200 + Math.floor(Math.random() * 300));
}

/**
 * Reads of a configuration's assignments (every page), cached in Redis with the time the read
 * started, and taken by one job at a time per configuration while the others wait.
 *
 * Two questions use them, each with its own "not before": a rollout asks once per configuration
 * which groups were assigned before it began (the rows already assigned end as `already-assigned`
 * without a write; a configuration that does not exist fails its rows with one read instead of one
 * POST each); a row whose POST ended ambiguously asks, after the settle delay, whether that POST
 * landed. Sharing one read among all the rows that need it is what keeps "never a duplicate" at
 * about one request per row, even when a burst of POSTs was throttled or cut off.
 */
export class ConfigurationListings {
  /** Reads this process has in flight, by listing key, and when each began. */
  private readonly reading = new Map<string, { since: number; done: Promise<unknown> }>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly graph: LaneBoundGraph,
  ) {}

  /** Interprets the listing fields read in the row's pipeline: [status, startedAt, group's id]. */
  static view(
    status: string | null,
    startedAt: string | null,
    assignmentId: string | null,
    notBefore: number,
  ): ListingView {
    if (!status || Number(startedAt ?? 0) < notBefore) return { state: 'stale' };
    if (status === 'ok') return { state: 'fresh', assignmentId: assignmentId || null };
    return { state: 'missing', failure: JSON.parse(status.slice('missing|'.length)) as ListingFailure };
  }

  /**
   * A view no older than `notBefore`: read from Redis, or from Graph by one job at a time while the
   * others wait. A row of this process waits for a read this process has in flight; a row that finds
   * the read locked by another process looks at the listing again every LOCK_POLL_MS. Either waits in
   * place up to WAIT_IN_PLACE_MS (a small configuration's read takes a few milliseconds) and is then
   * parked (LaneWait), so no worker slot waits out a long read. Parking costs each row a trip through
   * BullMQ's delayed set and a second run, and at a rollout's start nearly every row of a
   * configuration would pay it. Transient Graph failures are thrown for the reading row's retry
   * policy; "not found" is cached as the listing.
   */
  async read(
    configurationId: string,
    groupId: string,
    notBefore: number,
    ctx: CallerContext,
    options: { maxInlineWaitMs?: number } = {},
  ): Promise<Exclude<ListingView, { state: 'stale' }>> {
    const key = this.keys.listing(ctx.tenantId, configurationId);
    const current = await this.current(key, groupId, notBefore);
    if (current) return current;
    const shared = this.reading.get(key);
    if (shared && shared.since >= notBefore) {
      // The reader's failure is its own (its retry policy decides); these rows come back later.
      const landed = await Promise.race([
        shared.done.then(
          () => true,
          () => false,
        ),
        sleep(WAIT_IN_PLACE_MS, false),
      ]);
      const view = landed ? await this.current(key, groupId, notBefore) : null;
      if (view) return view;
      throw parked();
    }
    const since = Date.now();
    const done = this.readLocked(key, configurationId, groupId, notBefore, ctx, options);
    if (!shared) {
      this.reading.set(key, { since, done });
      const forget = () => {
        if (this.reading.get(key)?.done === done) this.reading.delete(key);
      };
      done.then(forget, forget);
    }
    return done;
  }

  private async readLocked(
    key: string,
    configurationId: string,
    groupId: string,
    notBefore: number,
    ctx: CallerContext,
    options: { maxInlineWaitMs?: number },
  ): Promise<Exclude<ListingView, { state: 'stale' }>> {
    const lock = this.keys.listingLock(ctx.tenantId, configurationId);
    const giveUpAt = Date.now() + WAIT_IN_PLACE_MS;
    while ((await this.redis.set(lock, ctx.owner, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
      if (Date.now() + LOCK_POLL_MS > giveUpAt) throw parked();
      await sleep(LOCK_POLL_MS);
      const landed = await this.current(key, groupId, notBefore);
      if (landed) return landed;
    }
    try {
      // Someone may have finished a read between our look and our lock.
      const again = await this.current(key, groupId, notBefore);
      if (again) return again;
      const startedAt = Date.now();
      let assignments: Assignment[];
      try {
        assignments = await listAll(this.graph, ctx, configurationId, options.maxInlineWaitMs ?? PAGE_WAIT_MS, () =>
          this.redis.pexpire(lock, LOCK_TTL_MS),
        );
      } catch (err) {
        if (err instanceof GraphFailure && err.httpStatus === 404) {
          const failure: ListingFailure = {
            httpStatus: 404,
            errorCode: err.graphCode ?? null,
            message: err.message,
            requestId: err.requestId ?? null,
            code: err.code,
          };
          await this.redis
            .multi()
            .del(key)
            .hset(key, LISTING_FIELDS.status, `missing|${JSON.stringify(failure)}`, LISTING_FIELDS.startedAt, startedAt)
            .pexpire(key, LISTING_TTL_MS)
            .exec();
          return { state: 'missing', failure };
        }
        throw err;
      }
      const { kind } = this.graph.api;
      const byGroup = new Map<string, string>();
      for (const a of assignments) {
        const group = kind.assignedGroup(a);
        if (group !== undefined && !byGroup.has(group)) byGroup.set(group, a.id);
      }
      // Written aside and renamed into place, so a reader never sees half a listing.
      const staging = this.keys.listingStaging(ctx.tenantId, configurationId, ctx.owner);
      const entries = [...byGroup.entries()];
      const tx = this.redis.multi().del(staging);
      for (let i = 0; i < entries.length; i += 1000) tx.hset(staging, Object.fromEntries(entries.slice(i, i + 1000)));
      tx.hset(staging, LISTING_FIELDS.status, 'ok', LISTING_FIELDS.startedAt, startedAt)
        .pexpire(staging, LISTING_TTL_MS)
        .rename(staging, key);
      await tx.exec();
      return { state: 'fresh', assignmentId: byGroup.get(groupId) ?? null };
    } finally {
      if ((await this.redis.get(lock)) === ctx.owner) await this.redis.del(lock);
    }
  }

  private async current(
    key: string,
    groupId: string,
    notBefore: number,
  ): Promise<Exclude<ListingView, { state: 'stale' }> | null> {
    const [status, startedAt, id] = await this.redis.hmget(
      key,
      LISTING_FIELDS.status,
      LISTING_FIELDS.startedAt,
      groupId,
    );
    const view = ConfigurationListings.view(status ?? null, startedAt ?? null, id ?? null, notBefore);
    return view.state === 'stale' ? null : view;
  }
}

/**
 * Every assignment of a configuration, following @odata.nextLink, each page through the lane and
 * ahead of the rows already promised a slot: every row of the configuration waits on this read, and
 * behind a backlog each page would wait the whole backlog (43 s for 1,000 rows at 25/s), longer than
 * the read may hold its worker, so a large configuration's read would restart from page one for ever
 * while the rows' own slots went by unused.
 */
export async function listAll(
  graph: LaneBoundGraph,
  ctx: CallerContext,
  configurationId: string,
  maxInlineWaitMs?: number,
  onPage?: () => Promise<unknown>,
): Promise<Assignment[]> {
  const all: Assignment[] = [];
  let next: string | undefined;
  do {
    const page = await readPage(graph, ctx, configurationId, next, maxInlineWaitMs);
    all.push(...page.assignments);
    next = page.nextLink;
    await onPage?.();
  } while (next);
  return all;
}

type AssignmentPage = Awaited<ReturnType<AssignmentsApi['listPage']>>;

/** Tries of one page when Graph answers it with a fault that names no wait (a 5xx, a reset). */
const PAGE_TRIES = 3;
/** The first pause between them (doubled per try, with jitter). */
const PAGE_RETRY_BASE_MS = 100;

/**
 * One page, tried again in place after a short pause when Graph faults on it without saying when to
 * come back. A read commits nothing, so trying again is safe at once; a faulted read handed to the
 * row's backoff instead would spend an attempt and wait the row's growing step (seconds after a few
 * faulted POSTs), and every row waiting on this listing with it. A Retry-After, throttling or a
 * fault that persists goes to the caller as before.
 */
async function readPage(
  graph: LaneBoundGraph,
  ctx: CallerContext,
  configurationId: string,
  next: string | undefined,
  maxInlineWaitMs: number | undefined,
): Promise<AssignmentPage> {
  return retryWith(
    async () =>
      (
        await graph.call(
          ctx,
          (options) => graph.api.listPage(ctx.tenantId, configurationId, next, options),
          undefined,
          { maxInlineWaitMs, ahead: true },
        )
      ).value,
    {
      maxAttempts: PAGE_TRIES,
      nextDelayMs: ({ error, attempt }) => {
        const faultWithoutWait =
          error instanceof GraphFailure &&
          error.kind === 'transient' &&
          error.retryAfterMs === undefined &&
          error.code !== GraphFailureCodes.TOKEN_UNAVAILABLE;
        if (!faultWithoutWait) throw error;
        return backoffDelayMs(attempt, PAGE_RETRY_BASE_MS);
      },
    },
  );
}

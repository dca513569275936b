import type { Redis } from 'ioredis';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Assignment } from '../lib/graph/assignments-api.js';
import { GraphFailure } from '../lib/graph/graph-failure.js';
import type { LaneBoundGraph, CallerContext } from './lane-bound-graph.js';
import { LaneWait } from './lane-gate.js';

/** The configuration as a rollout first saw it: which groups already had an assignment. */
export type SnapshotState =
  | { status: 'ok'; assignmentId: string | null }
  | { status: 'missing'; failure: { httpStatus: number | null; errorCode: string | null; message: string; requestId: string | null; code: string } }
  | { status: 'absent' };

export const SNAPSHOT_STATUS_FIELD = '_status';
const SNAPSHOT_TTL_MS = 12 * 60 * 60 * 1000;
const LOCK_TTL_MS = 120_000;

/**
 * A rollout reads each configuration's existing assignments once (one request per page), before its
 * first POST to that configuration. Rows whose group is already assigned end as `already-assigned`
 * without a write, and a configuration that does not exist fails its rows with one read instead of
 * one POST each. This is what keeps "never a duplicate" at about one request per row.
 */
export class ConfigurationSnapshots {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly graph: LaneBoundGraph,
  ) {}

  static parse(status: string | null, assignmentId: string | null): SnapshotState {
    if (!status) return { status: 'absent' };
    if (status === 'ok') return { status: 'ok', assignmentId: assignmentId || null };
    return { status: 'missing', failure: JSON.parse(status.slice('missing|'.length)) };
  }

  /**
   * Takes the snapshot, or waits (LaneWait) while another job of the rollout takes it. Transient
   * failures are thrown for the row's retry policy; "not found" is recorded as the snapshot.
   */
  async take(rolloutId: string, configurationId: string, groupId: string, ctx: CallerContext): Promise<SnapshotState> {
    const key = this.keys.snapshot(rolloutId, ctx.tenantId, configurationId);
    const lock = this.keys.snapshotLock(rolloutId, ctx.tenantId, configurationId);
    const got = await this.redis.set(lock, ctx.owner, 'PX', LOCK_TTL_MS, 'NX');
    if (got !== 'OK') {
      const [status, id] = await this.redis.hmget(key, SNAPSHOT_STATUS_FIELD, groupId);
      const state = ConfigurationSnapshots.parse(status ?? null, id ?? null);
      if (state.status !== 'absent') return state;
      throw new LaneWait(Date.now() + 200 + Math.floor(Math.random() * 300));
    }
    try {
      let assignments: Assignment[];
      try {
        assignments = await listAll(this.graph, ctx, configurationId);
      } catch (err) {
        if (err instanceof GraphFailure && err.httpStatus === 404) {
          const failure = {
            httpStatus: 404,
            errorCode: err.graphCode ?? null,
            message: err.message,
            requestId: err.requestId ?? null,
            code: err.code,
          };
          await this.redis.multi().hset(key, SNAPSHOT_STATUS_FIELD, `missing|${JSON.stringify(failure)}`).pexpire(key, SNAPSHOT_TTL_MS).exec();
          return { status: 'missing', failure };
        }
        throw err;
      }
      const byGroup = new Map<string, string>();
      for (const a of assignments) if (a.groupId && !byGroup.has(a.groupId)) byGroup.set(a.groupId, a.id);
      const entries = [...byGroup.entries()];
      for (let i = 0; i < entries.length; i += 1000) {
        await this.redis.hset(key, Object.fromEntries(entries.slice(i, i + 1000)));
      }
      // The status goes last: a reader that sees it sees every group.
      await this.redis.multi().hset(key, SNAPSHOT_STATUS_FIELD, 'ok').pexpire(key, SNAPSHOT_TTL_MS).exec();
      return { status: 'ok', assignmentId: byGroup.get(groupId) ?? null };
    } finally {
      if ((await this.redis.get(lock)) === ctx.owner) await this.redis.del(lock);
    }
  }
}

/** Every assignment of a configuration, following @odata.nextLink, each page through the lane. */
export async function listAll(graph: LaneBoundGraph, ctx: CallerContext, configurationId: string): Promise<Assignment[]> {
  const all: Assignment[] = [];
  let next: string | undefined;
  do {
    const { value: page } = await graph.call(ctx, (options) => graph.api.listPage(ctx.tenantId, configurationId, next, options));
    all.push(...page.assignments);
    next = page.nextLink;
  } while (next);
  return all;
}

import type { Redis } from 'ioredis';
import { RedisKeys } from '../redis/redis-keys.js';
import { NO_RESULT, type Outcome, type OutcomeKind } from '../outcome.js';
import { isDeleteRowKey } from '../assignment-row.js';
import { recordOutcome, takeForRetry } from './rollout-scripts.js';

export interface RolloutMeta {
  rolloutId: string;
  name?: string;
  source: string;
  createdAt: string;
  total: number;
  inputRows: number;
  duplicateRows: number;
  tenants: string[];
}

export type RolloutState = 'running' | 'finished' | 'cancelled';

/** Rows per outcome, of a whole rollout or of one of its tenants. */
export interface Progress {
  total: number;
  pending: number;
  /** created + alreadyAssigned + deleted + alreadyDeleted. */
  succeeded: number;
  failed: number;
  created: number;
  alreadyAssigned: number;
  deleted: number;
  alreadyDeleted: number;
  cancelled: number;
}

export interface TenantProgress extends Progress {
  tenantId: string;
  /** When the tenant's lane reopens after a 429/503, or null when it is open. */
  pausedUntil: string | null;
}

export interface RolloutStatus extends Progress {
  rolloutId: string;
  name: string | null;
  source: string;
  createdAt: string;
  state: RolloutState;
  /** Delete rows among `total` (0 for a rollout that only creates). */
  deleteRows: number;
  finishedAt: string | null;
  cancelledAt: string | null;
  /** How many times `retry` re-enqueued rows of this rollout. */
  retries: number;
  tenants: TenantProgress[];
}

/** What happens to the row's cross-rollout marker when its outcome is recorded. */
export type MarkerUpdate =
  | { action: 'assigned'; assignmentId: string }
  /** A definite refusal: nothing of ours exists, forget our own `sent` mark. */
  | { action: 'clear-own' }
  /** A delete row ended: its own `sent` or `ended` mark of this rollout has served its purpose. */
  | { action: 'drop-own' }
  | { action: 'keep' };

/** Counter field per outcome, in the rollout hash; `t:<tenantId>:<counter>` per tenant. */
export const COUNTER: Record<OutcomeKind, string> = {
  created: 'created',
  'already-assigned': 'alreadyAssigned',
  deleted: 'deleted',
  'already-deleted': 'alreadyDeleted',
  failed: 'failed',
  cancelled: 'cancelled',
};

export class RolloutStore {
  readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly retentionMs: number,
  ) {
    this.keys = new RedisKeys(prefix);
  }

  /** Writes the rollout record before any row or job exists, so `total` is known first. */
  async createRecord(meta: RolloutMeta): Promise<void> {
    const k = this.keys;
    const id = meta.rolloutId;
    const createdMs = Date.parse(meta.createdAt);
    await this.redis
      .multi()
      .hset(k.rollout(id), {
        rolloutId: id,
        name: meta.name ?? '',
        source: meta.source,
        createdAt: meta.createdAt,
        total: meta.total,
        inputRows: meta.inputRows,
        duplicateRows: meta.duplicateRows,
        tenants: JSON.stringify(meta.tenants),
        created: 0,
        alreadyAssigned: 0,
        deleted: 0,
        alreadyDeleted: 0,
        failed: 0,
        cancelled: 0,
      })
      .pexpire(k.rollout(id), this.retentionMs)
      .zadd(k.rollouts(), createdMs, id)
      .zremrangebyscore(k.rollouts(), '-inf', createdMs - this.retentionMs)
      .exec();
  }

  /** Appends row keys (input order) and counts them per tenant, and the delete rows among them. */
  async appendRows(rolloutId: string, rowKeys: readonly string[]): Promise<void> {
    if (rowKeys.length === 0) return;
    const k = this.keys;
    const perTenant = new Map<string, number>();
    let deleteRows = 0;
    for (const key of rowKeys) {
      const tenant = key.slice(0, key.indexOf('/'));
      perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
      if (isDeleteRowKey(key)) deleteRows++;
    }
    const tx = this.redis
      .multi()
      .rpush(k.rolloutRows(rolloutId), ...rowKeys)
      .pexpire(k.rolloutRows(rolloutId), this.retentionMs);
    for (const [tenant, n] of perTenant) tx.hincrby(k.rollout(rolloutId), `t:${tenant}:total`, n);
    if (deleteRows > 0) tx.hincrby(k.rollout(rolloutId), 'deleteRows', deleteRows);
    await tx.exec();
  }

  /** The rollout record and all its rows, in order (chunks of 1000). */
  async create(meta: RolloutMeta, rowKeys: Iterable<string>): Promise<void> {
    await this.createRecord(meta);
    let chunk: string[] = [];
    for (const key of rowKeys) {
      chunk.push(key);
      if (chunk.length >= 1000) {
        await this.appendRows(meta.rolloutId, chunk);
        chunk = [];
      }
    }
    await this.appendRows(meta.rolloutId, chunk);
  }

  /**
   * Records the row's outcome exactly once, with its counters, its marker's update and the retention
   * clock, in one round trip (record-outcome-4.lua). Returns false when the row already had an
   * outcome (nothing changed).
   */
  async record(outcome: Outcome, rowKey: string, marker: MarkerUpdate): Promise<boolean> {
    const k = this.keys;
    const markerValue = marker.action === 'assigned' ? `assigned|${marker.assignmentId}` : '';
    return recordOutcome(
      this.redis,
      {
        outcomes: k.rolloutOutcomes(outcome.rolloutId),
        rollout: k.rollout(outcome.rolloutId),
        marker: k.rowMarker(rowKey),
        rows: k.rolloutRows(outcome.rolloutId),
      },
      {
        rowKey,
        outcomeJson: JSON.stringify(outcome, storedField),
        counter: COUNTER[outcome.outcome],
        markerAction: marker.action,
        markerValue,
        retentionMs: this.retentionMs,
        rolloutId: outcome.rolloutId,
        finishedAt: outcome.finishedAt,
        tenantId: outcome.tenantId,
      },
    );
  }

  /** Marks the rollout cancelled (idempotent); rows still queued end as `cancelled`. */
  async markCancelled(rolloutId: string, at: string): Promise<void> {
    await this.redis.hsetnx(this.keys.rollout(rolloutId), 'cancelledAt', at);
  }

  /**
   * Takes the rows whose outcome is `kind` back for a retry (their outcomes move to history), a chunk
   * at a time. Returns the retry's number and the rows taken, as [row number, row key].
   */
  async takeForRetry(
    rolloutId: string,
    kind: OutcomeKind,
    chunkSize = 1000,
  ): Promise<{ retryNumber: number; rows: [number, string][] }> {
    const k = this.keys;
    const rows: [number, string][] = [];
    for (let start = 0; ; start += chunkSize) {
      const rowKeys = await this.redis.lrange(k.rolloutRows(rolloutId), start, start + chunkSize - 1);
      if (rowKeys.length === 0) break;
      const taken = await takeForRetry(
        this.redis,
        { outcomes: k.rolloutOutcomes(rolloutId), rollout: k.rollout(rolloutId), history: k.rolloutHistory(rolloutId) },
        { kind, counter: COUNTER[kind], rows: rowKeys.map((key, i) => [key, start + i] as const) },
      );
      for (const row of taken) rows.push([row, rowKeys[row - start]!]);
      if (rowKeys.length < chunkSize) break;
    }
    if (rows.length === 0) return { retryNumber: 0, rows };
    // A retry asks again what the configurations hold: listings from before it are not reused.
    const [[, retryNumber]] = (await this.redis
      .multi()
      .hincrby(k.rollout(rolloutId), 'retries', 1)
      .hset(k.rollout(rolloutId), 'retriedAt', Date.now())
      .exec()) as [[null, number], [null, number]];
    if (kind === 'cancelled') await this.redis.hdel(k.rollout(rolloutId), 'cancelledAt');
    return { retryNumber, rows };
  }

  async status(rolloutId: string): Promise<RolloutStatus | null> {
    const h = await this.redis.hgetall(this.keys.rollout(rolloutId));
    if (!h.rolloutId) return null;
    const tenants = tenantIdsOf(h);
    const paused = tenants.length
      ? await this.redis.pipeline(tenants.map((t) => ['hget', this.keys.lane(t), 'pausedUntil'])).exec()
      : [];
    const pausedUntil = new Map(tenants.map((t, i) => [t, Number(paused?.[i]?.[1] ?? 0) || 0]));
    return toStatus(h, pausedUntil, Date.now());
  }

  /** Rollouts within retention, newest first. */
  async list(limit = 1000): Promise<RolloutStatus[]> {
    const ids = await this.redis.zrevrange(this.keys.rollouts(), 0, limit - 1);
    if (ids.length === 0) return [];
    const hashes = await this.redis.pipeline(ids.map((id) => ['hgetall', this.keys.rollout(id)])).exec();
    const now = Date.now();
    return (hashes ?? [])
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h && h.rolloutId)
      .map((h) => toStatus(h, new Map(), now));
  }

  /** Outcomes of rows in input order, a chunk at a time; rows still running come back as null. */
  async *outcomes(
    rolloutId: string,
    chunkSize = 1000,
  ): AsyncGenerator<{ rowKey: string; row: number; outcome: Outcome | null; retries: number }> {
    const k = this.keys;
    const retried = (await this.redis.hget(k.rollout(rolloutId), 'retries')) !== null;
    for (let start = 0; ; start += chunkSize) {
      const rowKeys = await this.redis.lrange(k.rolloutRows(rolloutId), start, start + chunkSize - 1);
      if (rowKeys.length === 0) return;
      const values = await this.redis.hmget(k.rolloutOutcomes(rolloutId), ...rowKeys);
      const history = retried ? await this.redis.hmget(k.rolloutHistory(rolloutId), ...rowKeys) : [];
      for (let i = 0; i < rowKeys.length; i++) {
        const v = values[i];
        const h = history[i];
        const retries = h ? (JSON.parse(h) as unknown[]).length : 0;
        yield {
          rowKey: rowKeys[i]!,
          row: start + i + 1,
          outcome: v ? ({ ...NO_RESULT, action: 'create', ...(JSON.parse(v) as Partial<Outcome>) } as Outcome) : null,
          retries,
        };
      }
      if (rowKeys.length < chunkSize) return;
    }
  }
}

/**
 * Outcomes are stored without their null fields (about a sixth of a row's bytes) and without
 * `action: 'create'`, the default, and read back with them (see `outcomes`).
 */
function storedField(key: string, value: unknown): unknown {
  return value === null || (key === 'action' && value === 'create') ? undefined : value;
}

function tenantIdsOf(h: Record<string, string>): string[] {
  const ids = new Set<string>();
  for (const field of Object.keys(h)) {
    if (field.startsWith('t:')) ids.add(field.slice(2, field.lastIndexOf(':')));
  }
  return [...ids];
}

/** The counters named by `count` (the rollout's, or a tenant's `t:<tenant>:<counter>`) as progress. */
function progressOf(count: (counter: string) => number): Progress {
  const total = count('total');
  const created = count('created');
  const alreadyAssigned = count('alreadyAssigned');
  const deleted = count('deleted');
  const alreadyDeleted = count('alreadyDeleted');
  const failed = count('failed');
  const cancelled = count('cancelled');
  const succeeded = created + alreadyAssigned + deleted + alreadyDeleted;
  const pending = Math.max(0, total - succeeded - failed - cancelled);
  return { total, pending, succeeded, failed, created, alreadyAssigned, deleted, alreadyDeleted, cancelled };
}

export function toStatus(h: Record<string, string>, pausedUntil: Map<string, number>, nowMs: number): RolloutStatus {
  const n = (name: string) => Number(h[name] ?? 0) || 0;
  const { total, ...counts } = progressOf(n);
  const done = counts.succeeded + counts.failed + counts.cancelled >= total;
  const tenants: TenantProgress[] = tenantIdsOf(h)
    .sort()
    .map((tenantId) => {
      const until = pausedUntil.get(tenantId) ?? 0;
      return {
        tenantId,
        ...progressOf((c) => n(`t:${tenantId}:${c}`)),
        pausedUntil: until > nowMs ? new Date(until).toISOString() : null,
      };
    });
  // Field order is the `status --json` output's order.
  return {
    rolloutId: h.rolloutId ?? '',
    name: h.name ? h.name : null,
    source: h.source ?? '',
    createdAt: h.createdAt ?? '',
    state: h.cancelledAt ? 'cancelled' : done ? 'finished' : 'running',
    total,
    deleteRows: n('deleteRows'),
    ...counts,
    finishedAt: done ? (h.finishedAt ?? null) : null,
    cancelledAt: h.cancelledAt ?? null,
    retries: n('retries'),
    tenants,
  };
}

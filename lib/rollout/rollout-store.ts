import type { Redis } from 'ioredis';
import { RedisKeys } from '../redis-keys.js';
import type { Outcome, OutcomeKind } from '../outcome.js';

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

export interface RolloutStatus {
  rolloutId: string;
  name: string | null;
  source: string;
  createdAt: string;
  state: 'running' | 'finished';
  total: number;
  pending: number;
  succeeded: number;
  failed: number;
  created: number;
  alreadyAssigned: number;
  finishedAt: string | null;
}

/** What happens to the row's cross-rollout marker when its outcome is recorded. */
export type MarkerUpdate =
  | { action: 'assigned'; assignmentId: string }
  /** A definite refusal: nothing of ours exists, forget our own `sent` mark. */
  | { action: 'clear-own' }
  | { action: 'keep' };

const COUNTER: Record<OutcomeKind, string> = { created: 'created', 'already-assigned': 'alreadyAssigned', failed: 'failed' };

/**
 * Records a row's outcome exactly once (HSETNX: a job re-run after its outcome was written changes
 * nothing), bumps the counter, updates the marker, and starts the retention clock when the rollout is
 * finished. One round trip.
 */
const RECORD_OUTCOME = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
-- outcomes of a rollout that never finishes still expire
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
if ARGV[4] == 'assigned' then
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
elseif ARGV[4] == 'clear-own' then
  local m = redis.call('GET', KEYS[3])
  local own = 'sent|' .. ARGV[7] .. '|'
  if m and string.sub(m, 1, #own) == own then redis.call('DEL', KEYS[3]) end
end
local h = redis.call('HMGET', KEYS[2], 'total', 'created', 'alreadyAssigned', 'failed')
local done = (tonumber(h[2]) or 0) + (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0)
if done >= (tonumber(h[1]) or 0) then
  redis.call('HSETNX', KEYS[2], 'finishedAt', ARGV[8])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return 1
`;

export class RolloutStore {
  readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly retentionMs: number,
  ) {
    this.keys = new RedisKeys(prefix);
    if (!('recordOutcome' in redis)) {
      redis.defineCommand('recordOutcome', { numberOfKeys: 4, lua: RECORD_OUTCOME });
    }
  }

  /** Writes the rollout and its rows (in order) before any job exists, so `total` is known first. */
  async create(meta: RolloutMeta, rowKeys: Iterable<string>): Promise<void> {
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
        failed: 0,
      })
      .pexpire(k.rollout(id), this.retentionMs)
      .zadd(k.rollouts(), createdMs, id)
      .zremrangebyscore(k.rollouts(), '-inf', createdMs - this.retentionMs)
      .exec();
    let chunk: string[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      await this.redis.multi().rpush(k.rolloutRows(id), ...chunk).pexpire(k.rolloutRows(id), this.retentionMs).exec();
      chunk = [];
    };
    for (const key of rowKeys) {
      chunk.push(key);
      if (chunk.length >= 1000) await flush();
    }
    await flush();
  }

  /** Returns false when the row already had an outcome (nothing changed). */
  async record(outcome: Outcome, rowKey: string, marker: MarkerUpdate): Promise<boolean> {
    const k = this.keys;
    const markerValue = marker.action === 'assigned' ? `assigned|${marker.assignmentId}` : '';
    const written = await (this.redis as unknown as RecordCommand).recordOutcome(
      k.rolloutOutcomes(outcome.rolloutId),
      k.rollout(outcome.rolloutId),
      k.rowMarker(rowKey),
      k.rolloutRows(outcome.rolloutId),
      rowKey,
      JSON.stringify(outcome),
      COUNTER[outcome.outcome],
      marker.action,
      markerValue,
      String(this.retentionMs),
      outcome.rolloutId,
      outcome.finishedAt,
    );
    return written === 1;
  }

  async status(rolloutId: string): Promise<RolloutStatus | null> {
    const h = await this.redis.hgetall(this.keys.rollout(rolloutId));
    if (!h.rolloutId) return null;
    return toStatus(h);
  }

  /** Outcomes of rows in input order, a chunk at a time; rows still running come back as null. */
  async *outcomes(rolloutId: string, chunkSize = 1000): AsyncGenerator<{ rowKey: string; row: number; outcome: Outcome | null }> {
    const k = this.keys;
    for (let start = 0; ; start += chunkSize) {
      const rowKeys = await this.redis.lrange(k.rolloutRows(rolloutId), start, start + chunkSize - 1);
      if (rowKeys.length === 0) return;
      const values = await this.redis.hmget(k.rolloutOutcomes(rolloutId), ...rowKeys);
      for (let i = 0; i < rowKeys.length; i++) {
        const v = values[i];
        yield { rowKey: rowKeys[i]!, row: start + i + 1, outcome: v ? (JSON.parse(v) as Outcome) : null };
      }
      if (rowKeys.length < chunkSize) return;
    }
  }
}

interface RecordCommand {
  recordOutcome(...args: string[]): Promise<number>;
}

export function toStatus(h: Record<string, string>): RolloutStatus {
  const n = (name: string) => Number(h[name] ?? 0) || 0;
  const total = n('total');
  const created = n('created');
  const alreadyAssigned = n('alreadyAssigned');
  const failed = n('failed');
  const succeeded = created + alreadyAssigned;
  return {
    rolloutId: h.rolloutId ?? '',
    name: h.name ? h.name : null,
    source: h.source ?? '',
    createdAt: h.createdAt ?? '',
    state: succeeded + failed >= total ? 'finished' : 'running',
    total,
    pending: Math.max(0, total - succeeded - failed),
    succeeded,
    failed,
    created,
    alreadyAssigned,
    finishedAt: h.finishedAt ?? null,
  };
}

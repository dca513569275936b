import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from '../lib/redis/lua-script.js';
import type { RedisKeys } from '../lib/redis/redis-keys.js';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import { LISTING_FIELDS } from './configuration-listing.js';

const ROW_STATE = loadLuaScript('rowState', new URL('./row-state-5.lua', import.meta.url));

type RowStateCall = [
  outcomes: string,
  marker: string,
  listing: string,
  attempts: string,
  rollout: string,
  rowKey: string,
  groupId: string,
  statusField: string,
  startedAtField: string,
];

type RowStateReply =
  | [done: 1]
  | [
      done: 0,
      marker: string | null,
      listing: [status: string | null, startedAt: string | null, assignmentId: string | null],
      attempts: string | null,
      rollout: [cancelledAt: string | null, createdAt: string | null, retriedAt: string | null],
    ];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rowState(...args: RowStateCall): Result<RowStateReply, Context>;
  }
}

type RowOfJob = Pick<AssignmentJobData, 'rolloutId' | 'tenantId' | 'configurationId' | 'groupId'>;

/** What row-state-5.lua read for a row whose outcome is not recorded yet. */
export interface RowState {
  marker: string | null;
  listing: { status: string | null; startedAt: string | null; assignmentId: string | null };
  attempts: number;
  cancelledAt: string | null;
  createdAt: string | null;
  retriedAt: string | null;
}

/** The command's arguments, in row-state-5.lua's KEYS and ARGV order. */
export function rowStateArgs(keys: RedisKeys, row: RowOfJob, rowKey: string): RowStateCall {
  return [
    keys.rolloutOutcomes(row.rolloutId),
    keys.rowMarker(rowKey),
    keys.listing(row.tenantId, row.configurationId),
    keys.rolloutAttempts(row.rolloutId),
    keys.rollout(row.rolloutId),
    rowKey,
    row.groupId,
    LISTING_FIELDS.status,
    LISTING_FIELDS.startedAt,
  ];
}

/** The row's state in one round trip; null when its outcome is already recorded. */
export async function readRowState(
  redis: Redis,
  keys: RedisKeys,
  row: RowOfJob,
  rowKey: string,
): Promise<RowState | null> {
  defineLuaScript(redis, ROW_STATE);
  const reply = await redis.rowState(...rowStateArgs(keys, row, rowKey));
  if (reply[0] === 1) return null;
  const [, marker, [status, startedAt, assignmentId], attempts, [cancelledAt, createdAt, retriedAt]] = reply;
  return {
    marker,
    listing: { status, startedAt, assignmentId },
    attempts: Number(attempts ?? 0) || 0,
    cancelledAt,
    createdAt,
    retriedAt,
  };
}

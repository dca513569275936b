import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from '../redis/lua-script.js';

/**
 * The rollout store's Lua scripts (record-outcome-4.lua, take-for-retry-3.lua), each called through
 * one function that turns named keys and arguments into the script's KEYS and ARGV order.
 */
const RECORD_OUTCOME = loadLuaScript('recordOutcome', new URL('./record-outcome-4.lua', import.meta.url));
const TAKE_FOR_RETRY = loadLuaScript('takeForRetry', new URL('./take-for-retry-3.lua', import.meta.url));

export interface RecordOutcomeKeys {
  outcomes: string;
  rollout: string;
  marker: string;
  rows: string;
}

export type MarkerAction = 'assigned' | 'clear-own' | 'drop-own' | 'keep';

export interface RecordOutcomeArgs {
  rowKey: string;
  outcomeJson: string;
  counter: string;
  markerAction: MarkerAction;
  /** For 'assigned': `assigned|<assignmentId>`; '' otherwise. */
  markerValue: string;
  retentionMs: number;
  rolloutId: string;
  finishedAt: string;
  tenantId: string;
}

type RecordOutcomeCall = [
  outcomes: string,
  rollout: string,
  marker: string,
  rows: string,
  rowKey: string,
  outcomeJson: string,
  counter: string,
  markerAction: MarkerAction,
  markerValue: string,
  retentionMs: string,
  rolloutId: string,
  finishedAt: string,
  tenantId: string,
];

export interface TakeForRetryKeys {
  outcomes: string;
  rollout: string;
  history: string;
}

export interface TakeForRetryArgs {
  kind: string;
  counter: string;
  /** [row key, row number (0-based)]. */
  rows: readonly (readonly [rowKey: string, row: number])[];
}

type TakeForRetryCall = [
  outcomes: string,
  rollout: string,
  history: string,
  kind: string,
  counter: string,
  ...rowKeyAndNumber: string[],
];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** 1 recorded, 0 the row already had an outcome. */
    recordOutcome(...args: RecordOutcomeCall): Result<0 | 1, Context>;
    /** The row numbers taken, as given. */
    takeForRetry(...args: TakeForRetryCall): Result<string[], Context>;
  }
}

/** The command's arguments, in record-outcome-4.lua's KEYS and ARGV order. */
export function recordOutcomeArgs(keys: RecordOutcomeKeys, a: RecordOutcomeArgs): RecordOutcomeCall {
  return [
    keys.outcomes,
    keys.rollout,
    keys.marker,
    keys.rows,
    a.rowKey,
    a.outcomeJson,
    a.counter,
    a.markerAction,
    a.markerValue,
    String(a.retentionMs),
    a.rolloutId,
    a.finishedAt,
    a.tenantId,
  ];
}

/** The command's arguments, in take-for-retry-3.lua's KEYS and ARGV order. */
export function takeForRetryArgs(keys: TakeForRetryKeys, a: TakeForRetryArgs): TakeForRetryCall {
  return [
    keys.outcomes,
    keys.rollout,
    keys.history,
    a.kind,
    a.counter,
    ...a.rows.flatMap(([rowKey, row]) => [rowKey, String(row)]),
  ];
}

/** True when written; false when the row already had an outcome (nothing changed). */
export async function recordOutcome(redis: Redis, keys: RecordOutcomeKeys, args: RecordOutcomeArgs): Promise<boolean> {
  defineLuaScript(redis, RECORD_OUTCOME);
  return (await redis.recordOutcome(...recordOutcomeArgs(keys, args))) === 1;
}

/** The numbers of the rows taken (as given in `args.rows`). */
export async function takeForRetry(redis: Redis, keys: TakeForRetryKeys, args: TakeForRetryArgs): Promise<number[]> {
  defineLuaScript(redis, TAKE_FOR_RETRY);
  return (await redis.takeForRetry(...takeForRetryArgs(keys, args))).map(Number);
}

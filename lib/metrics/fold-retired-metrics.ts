import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from '../redis/lua-script.js';

const FOLD_RETIRED_METRICS = loadLuaScript(
  'foldRetiredMetrics',
  new URL('./fold-retired-metrics-3.lua', import.meta.url),
);

export interface FoldRetiredMetricsKeys {
  retired: string;
  liveSnapshot: string;
  workers: string;
}

export interface FoldRetiredMetricsArgs {
  /** SHA-1 (hex) of the retired sum's bytes as read; of no bytes when the key was absent. */
  sha1Hex: string;
  /** The new retired sum (prom-client JSON). */
  sum: string;
  workerId: string;
}

type FoldRetiredMetricsCall = [
  retired: string,
  liveSnapshot: string,
  workers: string,
  sha1Hex: string,
  sum: string,
  workerId: string,
];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** 1 folded, 0 the retired sum changed since it was read. */
    foldRetiredMetrics(...args: FoldRetiredMetricsCall): Result<0 | 1, Context>;
  }
}

/** The command's arguments, in fold-retired-metrics-3.lua's KEYS and ARGV order. */
export function foldRetiredMetricsArgs(
  keys: FoldRetiredMetricsKeys,
  args: FoldRetiredMetricsArgs,
): FoldRetiredMetricsCall {
  return [keys.retired, keys.liveSnapshot, keys.workers, args.sha1Hex, args.sum, args.workerId];
}

/** Replaces the retired sum if unchanged since read, and drops the worker's live snapshot: 1 done, 0 not. */
export async function foldRetiredMetrics(
  redis: Redis,
  keys: FoldRetiredMetricsKeys,
  args: FoldRetiredMetricsArgs,
): Promise<0 | 1> {
  defineLuaScript(redis, FOLD_RETIRED_METRICS);
  return redis.foldRetiredMetrics(...foldRetiredMetricsArgs(keys, args));
}

import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from '../redis/lua-script.js';

/**
 * The lanes' Lua scripts (lane-admit-4.lua, lane-throttled-2.lua, lane-release-2.lua), each called
 * through one function that turns named keys and arguments into the script's KEYS and ARGV order.
 */
const LANE_ADMIT = loadLuaScript('laneAdmit', new URL('./lane-admit-4.lua', import.meta.url));
const LANE_THROTTLED = loadLuaScript('laneThrottled', new URL('./lane-throttled-2.lua', import.meta.url));
const LANE_RELEASE = loadLuaScript('laneRelease', new URL('./lane-release-2.lua', import.meta.url));

export interface LaneKeys {
  lane: string;
  schedule: string;
}

export interface LaneAdmitKeys extends LaneKeys {
  /** The row marker set with the grant; none: the lane key stands in, untouched. */
  marker?: string;
  /** The hash the grant is counted in; none: the lane key stands in, untouched. */
  count?: string;
}

export interface LaneAdmitArgs {
  nowMs: number;
  owner: string;
  /** Sends per window; 0 = no configured limit, the lane's learned budget applies. */
  max: number;
  windowMs: number;
  toleranceMs: number;
  /** The grant time is appended to it; none: no marker is written. */
  markerValue?: string;
  markerTtlMs?: number;
  holdMs: number;
  halvingMs: number;
  /** Field of `keys.count` to count the grant in; none: no count. */
  countField?: string;
  countTtlMs?: number;
  ahead?: boolean;
  exclusiveMarker?: boolean;
  keepMs: number;
  /** The request spends the budget (false: it only waits out a pause). */
  counted: boolean;
  /** Answers this worker saw accepted since it last told the lane. */
  accepted: number;
}

type LaneAdmitCall = [
  lane: string,
  schedule: string,
  marker: string,
  count: string,
  nowMs: string,
  owner: string,
  max: string,
  windowMs: string,
  toleranceMs: string,
  markerValue: string,
  markerTtlMs: string,
  holdMs: string,
  halvingMs: string,
  countField: string,
  countTtlMs: string,
  ahead: '1' | '0',
  exclusiveMarker: '1' | '0',
  keepMs: string,
  counted: '1' | '0',
  accepted: string,
];

/**
 * Granted (1, with its count and whether the send is in the schedule), not granted (0, come
 * back at `atMs`), or the marker is taken (2).
 */
export type LaneAdmitReply =
  | [granted: 1, atMs: number, count: number, logged: 0 | 1]
  | [granted: 0, atMs: number]
  | [granted: 2, atMs: number, count: 0, logged: 0];

export interface LaneThrottledArgs {
  nowMs: number;
  /** undefined: the answer had no Retry-After, the lane backs off per burst. */
  retryAfterMs: number | undefined;
  adaptive: boolean;
  sentAtMs: number;
  estimateMargin: number;
  minSendsToLearn: number;
  maxLearnedWindowMs: number;
  baseDelayMs: number;
  /** In [0, 1): the backoff's jitter. */
  random: number;
  maxBackoffMs: number;
  holdMs: number;
  halvingMs: number;
  /** Answers this worker saw accepted since it last told the lane. */
  accepted: number;
}

type LaneThrottledCall = [
  lane: string,
  schedule: string,
  nowMs: string,
  retryAfterMs: string,
  adaptive: '1' | '0',
  sentAtMs: string,
  estimateMargin: string,
  minSendsToLearn: string,
  maxLearnedWindowMs: string,
  baseDelayMs: string,
  random: string,
  maxBackoffMs: string,
  holdMs: string,
  halvingMs: string,
  accepted: string,
];

type LaneReleaseCall = [lane: string, schedule: string, ...owners: string[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    laneAdmit(...args: LaneAdmitCall): Result<LaneAdmitReply, Context>;
    /** When the lane opens again (ms). */
    laneThrottled(...args: LaneThrottledCall): Result<number, Context>;
    /** How many promised slots were given back. */
    laneRelease(...args: LaneReleaseCall): Result<number, Context>;
  }
}

const flag = (on: boolean | undefined): '1' | '0' => (on ? '1' : '0');

/** The command's arguments, in lane-admit-4.lua's KEYS and ARGV order. */
export function laneAdmitArgs(keys: LaneAdmitKeys, a: LaneAdmitArgs): LaneAdmitCall {
  return [
    keys.lane,
    keys.schedule,
    keys.marker ?? keys.lane,
    keys.count ?? keys.lane,
    String(a.nowMs),
    a.owner,
    String(a.max),
    String(a.windowMs),
    String(a.toleranceMs),
    a.markerValue ?? '',
    String(a.markerTtlMs ?? 0),
    String(a.holdMs),
    String(a.halvingMs),
    a.countField ?? '',
    String(a.countTtlMs ?? 0),
    flag(a.ahead),
    flag(a.exclusiveMarker),
    String(a.keepMs),
    flag(a.counted),
    String(a.accepted),
  ];
}

/** The command's arguments, in lane-throttled-2.lua's KEYS and ARGV order. */
export function laneThrottledArgs(keys: LaneKeys, a: LaneThrottledArgs): LaneThrottledCall {
  return [
    keys.lane,
    keys.schedule,
    String(a.nowMs),
    a.retryAfterMs === undefined ? '-1' : String(Math.max(0, Math.round(a.retryAfterMs))),
    flag(a.adaptive),
    String(a.sentAtMs),
    String(a.estimateMargin),
    String(a.minSendsToLearn),
    String(a.maxLearnedWindowMs),
    String(a.baseDelayMs),
    String(a.random),
    String(a.maxBackoffMs),
    String(a.holdMs),
    String(a.halvingMs),
    String(a.accepted),
  ];
}

/** The command's arguments, in lane-release-2.lua's KEYS and ARGV order. */
export function laneReleaseArgs(keys: LaneKeys, owners: readonly string[]): LaneReleaseCall {
  return [keys.lane, keys.schedule, ...owners];
}

export async function laneAdmit(redis: Redis, keys: LaneAdmitKeys, args: LaneAdmitArgs): Promise<LaneAdmitReply> {
  defineLuaScript(redis, LANE_ADMIT);
  return redis.laneAdmit(...laneAdmitArgs(keys, args));
}

/** Returns when the lane opens again (ms). */
export async function laneThrottled(redis: Redis, keys: LaneKeys, args: LaneThrottledArgs): Promise<number> {
  defineLuaScript(redis, LANE_THROTTLED);
  return redis.laneThrottled(...laneThrottledArgs(keys, args));
}

export async function laneRelease(redis: Redis, keys: LaneKeys, owners: readonly string[]): Promise<void> {
  defineLuaScript(redis, LANE_RELEASE);
  await redis.laneRelease(...laneReleaseArgs(keys, owners));
}

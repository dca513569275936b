import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from '../redis/lua-script.js';

/**
 * The lanes' Lua scripts (lane-admit-5.lua, lane-throttled-2.lua, lane-release-2.lua), each called
 * through one function that turns named keys and arguments into the script's KEYS and ARGV order.
 */
const LANE_ADMIT = loadLuaScript('laneAdmit', new URL('./lane-admit-5.lua', import.meta.url));
const LANE_THROTTLED = loadLuaScript('laneThrottled', new URL('./lane-throttled-2.lua', import.meta.url));
const LANE_RELEASE = loadLuaScript('laneRelease', new URL('./lane-release-2.lua', import.meta.url));

export interface LaneKeys {
  lane: string;
  reservations: string;
}

export interface LaneAdmitKeys extends LaneKeys {
  sends: string;
  /** The row marker set with the grant; none: the lane key stands in, untouched. */
  marker?: string;
  /** The hash the grant is counted in; none: the lane key stands in, untouched. */
  count?: string;
}

export interface LaneAdmitArgs {
  nowMs: number;
  owner: string;
  /** Sends per window; 0 = no configured limit, the lane learns its interval. */
  max: number;
  windowMs: number;
  intervalMs: number;
  toleranceMs: number;
  /** The grant time is appended to it; none: no marker is written. */
  markerValue?: string;
  markerTtlMs?: number;
  quietBeforeSpeedupMs: number;
  speedupFactor: number;
  /** Field of `keys.count` to count the grant in; none: no count. */
  countField?: string;
  countTtlMs?: number;
  ahead?: boolean;
  exclusiveMarker?: boolean;
}

type LaneAdmitCall = [
  lane: string,
  reservations: string,
  sends: string,
  marker: string,
  count: string,
  nowMs: string,
  owner: string,
  max: string,
  windowMs: string,
  intervalMs: string,
  toleranceMs: string,
  markerValue: string,
  markerTtlMs: string,
  quietBeforeSpeedupMs: string,
  speedupFactor: string,
  countField: string,
  countTtlMs: string,
  ahead: '1' | '0',
  exclusiveMarker: '1' | '0',
];

/** Granted (1, with its count and seq), not granted (0, come back at `atMs`), or the marker is taken (2). */
export type LaneAdmitReply =
  | [granted: 1, atMs: number, count: number, seq: number]
  | [granted: 0, atMs: number]
  | [granted: 2, atMs: number, count: 0, seq: 0];

export interface LaneThrottledArgs {
  nowMs: number;
  /** undefined: the answer had no Retry-After, the lane backs off per burst. */
  retryAfterMs: number | undefined;
  adaptive: boolean;
  sentAtMs: number;
  slowdownFactor: number;
  estimateMargin: number;
  minLearnedIntervalMs: number;
  minSendsToLearn: number;
  firstGuessIntervalMs: number;
  maxLearnedIntervalMs: number;
  minSlowdownFactor: number;
  baseDelayMs: number;
  /** In [0, 1): the backoff's jitter. */
  random: number;
  /** The throttled request's grant number since the lane resumed; 0 = unknown. */
  seq: number;
  maxBackoffMs: number;
}

type LaneThrottledCall = [
  lane: string,
  reservations: string,
  nowMs: string,
  retryAfterMs: string,
  adaptive: '1' | '0',
  sentAtMs: string,
  slowdownFactor: string,
  estimateMargin: string,
  minLearnedIntervalMs: string,
  minSendsToLearn: string,
  firstGuessIntervalMs: string,
  maxLearnedIntervalMs: string,
  minSlowdownFactor: string,
  baseDelayMs: string,
  random: string,
  seq: string,
  maxBackoffMs: string,
];

export interface LaneReleaseArgs {
  /** The configured interval; undefined: the lane's learned one. */
  intervalMs: number | undefined;
  owners: readonly string[];
}

type LaneReleaseCall = [lane: string, reservations: string, intervalMs: string, ...owners: string[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    laneAdmit(...args: LaneAdmitCall): Result<LaneAdmitReply, Context>;
    /** When the lane opens again (ms). */
    laneThrottled(...args: LaneThrottledCall): Result<number, Context>;
    laneRelease(...args: LaneReleaseCall): Result<1, Context>;
  }
}

const flag = (on: boolean | undefined): '1' | '0' => (on ? '1' : '0');

/** The command's arguments, in lane-admit-5.lua's KEYS and ARGV order. */
export function laneAdmitArgs(keys: LaneAdmitKeys, a: LaneAdmitArgs): LaneAdmitCall {
  return [
    keys.lane,
    keys.reservations,
    keys.sends,
    keys.marker ?? keys.lane,
    keys.count ?? keys.lane,
    String(a.nowMs),
    a.owner,
    String(a.max),
    String(a.windowMs),
    String(a.intervalMs),
    String(a.toleranceMs),
    a.markerValue ?? '',
    String(a.markerTtlMs ?? 0),
    String(a.quietBeforeSpeedupMs),
    String(a.speedupFactor),
    a.countField ?? '',
    String(a.countTtlMs ?? 0),
    flag(a.ahead),
    flag(a.exclusiveMarker),
  ];
}

/** The command's arguments, in lane-throttled-2.lua's KEYS and ARGV order. */
export function laneThrottledArgs(keys: LaneKeys, a: LaneThrottledArgs): LaneThrottledCall {
  return [
    keys.lane,
    keys.reservations,
    String(a.nowMs),
    a.retryAfterMs === undefined ? '-1' : String(Math.max(0, Math.round(a.retryAfterMs))),
    flag(a.adaptive),
    String(a.sentAtMs),
    String(a.slowdownFactor),
    String(a.estimateMargin),
    String(a.minLearnedIntervalMs),
    String(a.minSendsToLearn),
    String(a.firstGuessIntervalMs),
    String(a.maxLearnedIntervalMs),
    String(a.minSlowdownFactor),
    String(a.baseDelayMs),
    String(a.random),
    String(a.seq),
    String(a.maxBackoffMs),
  ];
}

/** The command's arguments, in lane-release-2.lua's KEYS and ARGV order. */
export function laneReleaseArgs(keys: LaneKeys, a: LaneReleaseArgs): LaneReleaseCall {
  return [keys.lane, keys.reservations, String(a.intervalMs ?? -1), ...a.owners];
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

export async function laneRelease(redis: Redis, keys: LaneKeys, args: LaneReleaseArgs): Promise<void> {
  defineLuaScript(redis, LANE_RELEASE);
  await redis.laneRelease(...laneReleaseArgs(keys, args));
}

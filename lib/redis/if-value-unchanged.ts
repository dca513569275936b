import type { Redis, Result } from 'ioredis';
import { defineLuaScript, loadLuaScript } from './lua-script.js';

const IF_VALUE_UNCHANGED = loadLuaScript('ifValueUnchanged', new URL('./if-value-unchanged-1.lua', import.meta.url));

/** What to do to the key while it still holds the expected value. */
export type UnchangedValueAction =
  /** Replace the value, keeping the key's TTL. */
  { action: 'set'; value: string } | { action: 'del' } | { action: 'pexpire'; ttlMs: number };

type IfValueUnchangedArgs = [
  key: string,
  expected: string,
  action: 'set' | 'del' | 'pexpire',
  ...operand: [] | [string],
];

/** 0: the value had changed, nothing done. Otherwise the reply of SET ('OK'), DEL or PEXPIRE. */
export type IfValueUnchangedReply = 0 | 'OK' | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    ifValueUnchanged(...args: IfValueUnchangedArgs): Result<IfValueUnchangedReply, Context>;
  }
}

/** The command's arguments, in if-value-unchanged-1.lua's KEYS and ARGV order. */
export function ifValueUnchangedArgs(
  key: string,
  expected: string,
  change: UnchangedValueAction,
): IfValueUnchangedArgs {
  switch (change.action) {
    case 'set':
      return [key, expected, 'set', change.value];
    case 'del':
      return [key, expected, 'del'];
    case 'pexpire':
      return [key, expected, 'pexpire', String(change.ttlMs)];
  }
}

/** Changes `key` as told only while it still holds `expected` (atomically, one round trip). */
export async function ifValueUnchanged(
  redis: Redis,
  key: string,
  expected: string,
  change: UnchangedValueAction,
): Promise<IfValueUnchangedReply> {
  defineLuaScript(redis, IF_VALUE_UNCHANGED);
  return redis.ifValueUnchanged(...ifValueUnchangedArgs(key, expected, change));
}

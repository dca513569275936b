import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** A Redis Lua script read from its `.lua` file, ready to define as an ioredis command. */
export interface LuaScript<Name extends string = string> {
  /** The command's name on the connection (`redis.<name>(...)`), typed by a `declare module 'ioredis'`. */
  readonly name: Name;
  readonly numberOfKeys: number;
  readonly lua: string;
  readonly path: string;
}

/**
 * Reads a script once, synchronously: callers load theirs at module load, so a `.lua` file missing
 * from dist/ (see scripts/copy-lua.mjs) stops the process at start, not at its first row.
 *
 * The number of keys comes from the file name, `name-<numberOfKeys>.lua`, as in BullMQ's
 * src/commands: it is what ioredis sends as EVALSHA's numkeys, so it is visible where the script is
 * loaded and in a directory listing, and no comment is parsed to decide how a command splits its
 * arguments. The header's `KEYS[n]` lines must name exactly KEYS[1] to KEYS[numberOfKeys], so the
 * documentation cannot drift from the count.
 */
export function loadLuaScript<Name extends string>(name: Name, file: URL): LuaScript<Name> {
  const path = fileURLToPath(file);
  const suffix = /-(\d+)\.lua$/.exec(basename(path));
  if (!suffix) throw new Error(`${path}: a Lua script's file name ends in -<numberOfKeys>.lua`);
  const numberOfKeys = Number(suffix[1]);
  const lua = readFileSync(file, 'utf8');
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(lua)?.[1];
  if (header === undefined)
    throw new Error(`${path}: a Lua script opens with a --[[ … ]] header naming its KEYS and ARGV`);
  const documented = [...new Set([...header.matchAll(/\bKEYS\[(\d+)\]/g)].map((m) => Number(m[1])))].sort(
    (a, b) => a - b,
  );
  const expected = Array.from({ length: numberOfKeys }, (_, i) => i + 1);
  if (documented.join() !== expected.join()) {
    throw new Error(
      `${path}: its header names KEYS[${documented.join('], KEYS[')}], its file name says ${numberOfKeys} key(s)`,
    );
  }
  const script = { name, numberOfKeys, lua, path };
  loaded.push(script);
  return script;
}

/** Every script loaded so far (each module loads its own when it is imported). */
const loaded: LuaScript[] = [];

/** Per connection: the scripts defined on it, by name. */
const defined = new WeakMap<Redis, Map<string, string>>();

/**
 * Defines the script as a command on this connection, once: ioredis then sends EVALSHA, and EVAL
 * the first time on a socket or after a NOSCRIPT (a Redis restart empties its script cache).
 * A second script under a name already taken on the connection is an error, not a silent swap.
 */
export function defineLuaScript(redis: Redis, script: LuaScript): void {
  const scripts = definedOn(redis);
  const lua = scripts.get(script.name);
  if (lua === script.lua) return;
  if (lua !== undefined) throw new Error(`another Lua script is already defined as ${script.name} on this connection`);
  if (redis.options.enableAutoPipelining) {
    // An auto-pipeline copies the connection's scripts when it opens; a script defined later in the
    // same turn of the event loop is missing from it, and the call breaks the whole batch
    // (ioredis#1931). Such a connection gets every script up front (defineLoadedLuaScripts).
    throw new Error(`${script.name}: loaded after this auto-pipelining connection was made; define it up front`);
  }
  define(redis, scripts, script);
}

function definedOn(redis: Redis): Map<string, string> {
  let scripts = defined.get(redis);
  if (!scripts) defined.set(redis, (scripts = new Map()));
  return scripts;
}

function define(redis: Redis, scripts: Map<string, string>, script: LuaScript): void {
  redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  scripts.set(script.name, script.lua);
}

/**
 * Defines every script loaded so far on the connection: what an auto-pipelining connection needs
 * before its first command (see defineLuaScript). The modules that load scripts do so when imported,
 * so a process has them all once its imports are done.
 */
export function defineLoadedLuaScripts(redis: Redis): void {
  const scripts = definedOn(redis);
  for (const script of loaded) if (!scripts.has(script.name)) define(redis, scripts, script);
}

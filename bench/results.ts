import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { redisInfo } from './redis-info.js';

/** The machine a figure was measured on: seconds mean little without it. */
export interface MachineFacts {
  cores: number;
  cpuModel: string;
  node: string;
  /** Of the Redis at the URL given, else of the redis-server binary the benchmarks start. */
  redis: string;
  date: string;
}

/**
 * The source tree's bench/results/, not dist/'s: the JSON files are committed beside the code that
 * wrote them, and the README quotes them.
 */
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

/** Cores, CPU, Node and the redis-server binary's version; sync, so writing a result never waits. */
export function localMachineFacts(): MachineFacts {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    redis: redisServerVersion(),
    date: new Date().toISOString(),
  };
}

/** As localMachineFacts, with the version a running Redis reports when `redisUrl` is given. */
export async function machineFacts(redisUrl?: string): Promise<MachineFacts> {
  const facts = localMachineFacts();
  if (!redisUrl) return facts;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return { ...facts, redis: (await redisInfo(redis, 'server')).get('redis_version') ?? facts.redis };
  } catch {
    return facts;
  } finally {
    redis.disconnect();
  }
}

/** One line for the top of a printed table. */
export function describeMachine(m: MachineFacts): string {
  return `machine: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, Redis ${m.redis}`;
}

let cachedRedisVersion: string | undefined;

function redisServerVersion(): string {
  if (cachedRedisVersion === undefined) {
    try {
      const out = execFileSync(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version'], { encoding: 'utf8' });
      cachedRedisVersion = /v=(\S+)/.exec(out)?.[1] ?? out.trim();
    } catch {
      cachedRedisVersion = 'unknown';
    }
  }
  return cachedRedisVersion;
}

/** Writes `bench/results/<name>.json`: a `machine` block, then `data`'s fields. Returns the path. */
export function writeResult(name: string, data: unknown, machine: MachineFacts = localMachineFacts()): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  const body = data !== null && typeof data === 'object' && !Array.isArray(data) ? data : { data };
  writeFileSync(path, `${JSON.stringify({ machine, ...body }, null, 2)}\n`);
  return path;
}

/** What a figure must reach: `≥ 0.93` (a ratio to ideal) or `≤ 30 s` (a time). */
export interface Target {
  op: '≥' | '≤';
  value: number;
  unit?: string;
}

/** `≥ 0.93`, `≤ 30 s`. */
export function describeTarget(t: Target): string {
  return `${t.op} ${t.unit ? `${t.value} ${t.unit}` : t.value.toFixed(2)}`;
}

export function meetsTarget(value: number, t: Target): boolean {
  return t.op === '≥' ? value >= t.value : value <= t.value;
}

/** A table's target and verdict cells: `≥ 0.93 | no`. */
export function targetCells(value: number, t: Target): string {
  return `${describeTarget(t)} | ${meetsTarget(value, t) ? 'yes' : '**no**'}`;
}

/** Prints a markdown table: a header row, its rule, then the rows (cells already formatted). */
export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

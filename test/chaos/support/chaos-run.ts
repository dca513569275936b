import { randomInt } from 'node:crypto';
import { expect } from 'vitest';
import type { AssignmentRow } from '../../../lib/assignment-row.js';
import { startStack, type Stack } from '../../support/stack.js';
import {
  expectAllSucceeded,
  expectEachAssignedOnce,
  expectFinished,
  progressOf,
  reportOf,
  waitUntil,
} from '../../support/rollout-checks.js';

/**
 * What the chaos scenarios share: seeded dice (the seed is printed and in the test's name, so a
 * failure replays with CHAOS_SEED=<seed>), a stack on a Redis the scenario owns, and the end check
 * every scenario makes.
 */

/** Seeded dice (mulberry32): small, fast, and the same sequence for the same seed. */
export interface Dice {
  seed: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** A number in [min, max). */
  between(min: number, max: number): number;
  /** `count` distinct items of `items`, in a random order. */
  pick<T>(items: readonly T[], count: number): T[];
}

export function chaosDice(scenario: string): Dice {
  const fromEnv = process.env.CHAOS_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(1, 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`CHAOS_SEED must be an integer, got '${fromEnv}'`);
  console.log(`[chaos] ${scenario}: seed ${seed} (replay: CHAOS_SEED=${seed} npm run test:chaos -- ${scenario})`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (min, max) => min + next() * (max - min),
    pick(items, count) {
      const pool = [...items];
      const out: (typeof items)[number][] = [];
      while (out.length < count && pool.length) out.push(pool.splice(Math.floor(next() * pool.length), 1)[0]!);
      return out;
    },
  };
}

/** Timestamped progress lines, so a failure's output shows when each blow fell. */
export function chaosLog(scenario: string): (message: string) => void {
  const t0 = Date.now();
  return (message) => console.log(`[chaos] ${scenario} +${((Date.now() - t0) / 1000).toFixed(1)}s ${message}`);
}

/** startStack on the given Redis instead of a private throwaway one (startStack honours REDIS_URL). */
export async function startStackOn(redisUrl: string, options: Parameters<typeof startStack>[0]): Promise<Stack> {
  const saved = process.env.REDIS_URL;
  process.env.REDIS_URL = redisUrl;
  try {
    const stack = await startStack(options);
    // The test's own client sees the outages too; ioredis reconnects, and its complaint is noise.
    stack.redis.on('error', () => undefined);
    return stack;
  } finally {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  }
}

/** Waits until the rollout's finished fraction reaches `fraction`; returns its progress then. */
export async function waitForFraction(
  stack: Stack,
  rolloutId: string,
  fraction: number,
  timeoutMs = 180_000,
): Promise<{ done: number; total: number }> {
  return waitUntil(
    `${Math.round(fraction * 100)}% of rollout ${rolloutId} done`,
    async () => {
      const p = await progressOf(stack, rolloutId);
      return p.total > 0 && p.done >= fraction * p.total ? p : undefined;
    },
    timeoutMs,
    50,
  );
}

/**
 * The end check: the rollout finished with every row succeeded (an outcome for each, none
 * failed), and Graph holds each row's (tenant, configuration, group) exactly once, with no
 * duplicate anywhere.
 */
export async function expectRolloutWhole(
  stack: Stack,
  rolloutId: string,
  rows: readonly AssignmentRow[],
): Promise<void> {
  expectAllSucceeded(await reportOf(stack, rolloutId), rows);
  await expectFinished(stack, rolloutId, rows.length, 0);
  await expectEachAssignedOnce(stack, rows);
  const truth = await stack.control.truth();
  expect(truth.assignments).toBe(rows.length);
}

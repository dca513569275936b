import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';
import { enqueueRows, progressOf, statusOf } from '../support/rollout-checks.js';
import { chaosDice, chaosLog, expectRolloutWhole } from './support/chaos-run.js';

/**
 * A soak: 20,000 rows across 50 tenants through two workers, with 5% of POSTs faulted (every kind,
 * 1% each). Besides the end check (every row succeeded, each assigned exactly once), it samples each
 * worker's RSS and Redis's used_memory every few seconds while the rollout runs and for 30 s after
 * it drains, and asserts that nothing grows once there is no work: a leak per row or per retry
 * shows as memory that keeps climbing after the last row. A finished rollout keeps its outcomes and
 * markers by design, so Redis after the drain is compared with itself, not with before.
 *
 * Wall time: the emulator has no rate limit and a 5 ms latency, so Graph is not the bottleneck and
 * the run takes a couple of minutes on a 2-core machine (Redis and the workers are); a per-tenant
 * limit of Intune's ~5 writes/s would make 400 rows per tenant last 80 s and prove nothing more
 * about memory. The samples go to bench/results/soak.json.
 */

const SCENARIO = 'soak';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

const TENANTS = 50;
const CONFIGURATIONS = 2;
const GROUPS = 200; // 50 x 2 x 200 = 20,000 rows
const SAMPLE_EVERY_MS = 2000;
const AFTER_DRAIN_MS = 30_000;
const RESULTS = resolve(import.meta.dirname, '../../bench/results/soak.json');

interface Sample {
  /** Seconds since the rollout was enqueued. */
  t: number;
  phase: 'rollout' | 'drained';
  done: number;
  workerRssKb: number[];
  redisUsedMemory: number;
}

function rssKb(worker: WorkerHandle): number {
  const status = readFileSync(`/proc/${worker.child.pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for worker ${worker.child.pid}`);
  return Number(match[1]);
}

async function usedMemory(stack: Stack): Promise<number> {
  const info = await stack.redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe(`soak: 20,000 rows, 50 tenants, 5% faults (seed ${dice.seed})`, () => {
  let stack: Stack;
  let workers: WorkerHandle[];
  beforeAll(async () => {
    stack = await startStack({
      emulator: {
        faults: { serviceUnavailable: 0.01, internalError: 0.01, reset: 0.01, commitThenReset: 0.01, slowCommit: 0.01 },
        slowCommitMs: 400,
        latencyMs: 5,
        seed: dice.seed,
      },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '200', RETRY_MAX_ATTEMPTS: '20', WORKER_CONCURRENCY: '32' },
    });
    workers = [await stack.worker(), await stack.worker()];
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('assigns every row exactly once, and neither worker RSS nor Redis memory grows after the drain', async () => {
    const rows = makeRows(
      Array.from({ length: TENANTS }, () => randomUUID()),
      CONFIGURATIONS,
      GROUPS,
    );
    await stack.control.createConfigurations(rows);
    const samples: Sample[] = [];
    const baseline = { workerRssKb: workers.map(rssKb), redisUsedMemory: await usedMemory(stack) };
    const started = Date.now();
    const rolloutId = await enqueueRows(stack, rows);
    log(`enqueued ${rows.length} rows as ${rolloutId}`);

    const sample = async (phase: Sample['phase']): Promise<Sample> => {
      const s: Sample = {
        t: Math.round((Date.now() - started) / 100) / 10,
        phase,
        done: (await progressOf(stack, rolloutId)).done,
        workerRssKb: workers.map(rssKb),
        redisUsedMemory: await usedMemory(stack),
      };
      samples.push(s);
      return s;
    };

    // While it runs.
    const until = Date.now() + 270_000;
    for (;;) {
      const s = await sample('rollout');
      if (s.done >= rows.length) break;
      if (Date.now() > until) throw new Error(`soak rollout not drained after 270 s: ${s.done}/${rows.length}`);
      if (samples.length % 5 === 0)
        log(
          `${s.done}/${rows.length} done, RSS ${s.workerRssKb.map((k) => mb(k * 1024)).join(' / ')}, Redis ${mb(s.redisUsedMemory)}`,
        );
      await sleep(SAMPLE_EVERY_MS);
    }
    const drainSeconds = (Date.now() - started) / 1000;
    log(`drained in ${drainSeconds.toFixed(1)} s`);

    // After the drain: idle workers, a finished rollout.
    const drainedAt = Date.now();
    const atDrain = await sample('drained');
    while (Date.now() - drainedAt < AFTER_DRAIN_MS) {
      await sleep(SAMPLE_EVERY_MS);
      await sample('drained');
    }
    const last = samples.at(-1)!;
    const drained = samples.filter((s) => s.phase === 'drained');

    const stats = await stack.control.stats();
    const faults = Object.values(stats.tenants).reduce(
      (n, t) => n + Object.values(t.faults).reduce((a, b) => a + b, 0),
      0,
    );
    const accepted = Object.values(stats.tenants).reduce((n, t) => n + t.writesAccepted, 0);
    const status = await statusOf(stack, rolloutId);
    const summary = {
      scenario: SCENARIO,
      seed: dice.seed,
      rows: rows.length,
      tenants: TENANTS,
      workers: workers.length,
      workerConcurrency: 32,
      faultMix: '1% each of 503, 500, reset, commit-reset, slow-commit (5% of POSTs)',
      drainSeconds: Math.round(drainSeconds * 10) / 10,
      rowsPerSecond: Math.round(rows.length / drainSeconds),
      postsAccepted: accepted,
      faultsInjected: faults,
      outcome: { created: status.created, alreadyAssigned: status.alreadyAssigned, failed: status.failed },
      baseline,
      peakWorkerRssKb: workers.map((_, i) => Math.max(...samples.map((s) => s.workerRssKb[i]!))),
      workerRssKbAtDrain: atDrain.workerRssKb,
      workerRssKbAfter30s: last.workerRssKb,
      peakRedisUsedMemory: Math.max(...samples.map((s) => s.redisUsedMemory)),
      redisUsedMemoryAtDrain: atDrain.redisUsedMemory,
      redisUsedMemoryAfter30s: last.redisUsedMemory,
      redisBytesPerRowAfterDrain: Math.round((last.redisUsedMemory - baseline.redisUsedMemory) / rows.length),
      samples,
    };
    mkdirSync(join(RESULTS, '..'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(summary, null, 2)}\n`);
    log(
      `summary: ${rows.length} rows in ${summary.drainSeconds} s (${summary.rowsPerSecond} rows/s), ${faults} faults; ` +
        `worker RSS peak ${summary.peakWorkerRssKb.map((k) => mb(k * 1024)).join(' / ')}, at drain ${atDrain.workerRssKb.map((k) => mb(k * 1024)).join(' / ')}, ` +
        `+30 s ${last.workerRssKb.map((k) => mb(k * 1024)).join(' / ')}; Redis peak ${mb(summary.peakRedisUsedMemory)}, at drain ${mb(atDrain.redisUsedMemory)}, ` +
        `+30 s ${mb(last.redisUsedMemory)} (${summary.redisBytesPerRowAfterDrain} B/row kept); samples in ${RESULTS}`,
    );

    await expectRolloutWhole(stack, rolloutId, rows);
    expect(faults).toBeGreaterThan(0);
    // No growth once idle: each worker's RSS 30 s after the drain is within 10% of its RSS at the drain.
    for (let i = 0; i < workers.length; i++)
      expect(last.workerRssKb[i]!, `worker ${i} RSS`).toBeLessThanOrEqual(atDrain.workerRssKb[i]! * 1.1);
    // Redis is flat after the drain: no after-drain sample exceeds the one at the drain by more than
    // 2% (lanes, listings and the queue's bookkeeping only shrink or stay once there is no work).
    for (const s of drained)
      expect(s.redisUsedMemory, `Redis used_memory at +${s.t} s`).toBeLessThanOrEqual(atDrain.redisUsedMemory * 1.02);
  });
});

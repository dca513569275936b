import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';
import { enqueueRows, progressOf } from '../support/rollout-checks.js';
import { chaosDice, chaosLog, expectRolloutWhole, waitForFraction } from './support/chaos-run.js';

/**
 * Three workers share a rollout; three times over it, two of them die by SIGKILL at random moments
 * (POSTs on the wire, some committed by Graph, none answered), and two fresh workers take their
 * place. The dead workers' rows keep their BullMQ lock until WORKER_LOCK_MS, are then re-run by a
 * live worker, and their `sent` markers make that worker look at Graph before it posts again.
 */

const SCENARIO = 'worker-kills';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

// 3 tenants x 4 configurations x 150 groups = 1,800 rows at 30 writes/s per tenant: about 20 s of
// Graph time, stretched by each round's takeover (lock expiry, then the settle wait of the rows
// that were sent).
const TENANTS = 3;
const CONFIGURATIONS = 4;
const GROUPS = 150;
const RATE = { max: 30, windowMs: 1000 };
/** Each round strikes once this fraction of the rollout is done: early, middle, late. */
const ROUNDS: readonly [number, number][] = [
  [0.05, 0.2],
  [0.3, 0.45],
  [0.55, 0.7],
];

describe(`two of three workers killed -9, three times over one rollout (seed ${dice.seed})`, () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes every row, each assigned exactly once', async () => {
    const s = (stack = await startStack({
      // Latency keeps POSTs in flight, so a kill usually lands between a commit and its answer.
      emulator: { rateLimit: RATE, latencyMs: 150 },
      env: { GRAPH_RATE_LIMIT: `${RATE.max}/${RATE.windowMs}ms`, WORKER_CONCURRENCY: '16', WORKER_LOCK_MS: '4000' },
    }));
    let live: WorkerHandle[] = [await s.worker(), await s.worker(), await s.worker()];
    const killed: WorkerHandle[] = [];
    const tenants = [s.tenantId, ...Array.from({ length: TENANTS - 1 }, () => randomUUID())];
    const rows = makeRows(tenants, CONFIGURATIONS, GROUPS);
    await s.control.createConfigurations(rows);
    const started = Date.now();
    const rolloutId = await enqueueRows(s, rows);
    log(`enqueued ${rows.length} rows as ${rolloutId}`);

    for (const [round, [from, to]] of ROUNDS.entries()) {
      await waitForFraction(s, rolloutId, dice.between(from, to));
      const victims = dice.pick(live, 2);
      for (const victim of victims) {
        await victim.stop('SIGKILL');
        const p = await progressOf(s, rolloutId);
        log(`round ${round + 1}: killed worker pid ${victim.child.pid} at ${p.done}/${p.total} done`);
        // A kill that finds nothing left to do proves nothing.
        expect(p.pending).toBeGreaterThan(0);
        await sleep(dice.int(0, 2000));
      }
      killed.push(...victims);
      live = live.filter((w) => !victims.includes(w));
      // A supervisor brings the dead back a moment later.
      await sleep(dice.int(0, 3000));
      const spawnedAt = Date.now();
      live.push(...(await Promise.all([s.worker(), s.worker()])));
      log(`round ${round + 1}: two fresh workers ready after ${Date.now() - spawnedAt} ms`);
    }

    await s.waitFinished(rolloutId, 240_000);
    log(`rollout finished ${((Date.now() - started) / 1000).toFixed(1)} s after enqueue`);
    const landed = [...live, ...killed].reduce(
      (n, w) => n + w.logs().split('an earlier POST had landed').length - 1,
      0,
    );
    log(`takeovers that found a dead worker's POST already in Graph: ${landed}`);
    await expectRolloutWhole(s, rolloutId, rows);
    expect(killed).toHaveLength(6);
    for (const w of killed) expect(w.child.signalCode).toBe('SIGKILL');
    for (const w of live) expect(w.child.exitCode).toBeNull();
  });
});

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import { enqueueRows } from '../support/rollout-checks.js';
import { chaosDice, chaosLog, expectRolloutWhole, waitForFraction } from './support/chaos-run.js';

/**
 * Graph goes away for 10 s in the middle of a rollout: connections are refused, and the requests on
 * the wire when it went are cut (some after their commit). The emulator is suspended rather than
 * restarted as a process, so its truth spans the outage and can say whether a row was assigned
 * twice. Rows ride it out on their transient-failure retries, with the product's default retry
 * settings (RETRY_BASE_DELAY_MS 1 s, RETRY_MAX_ATTEMPTS 8), and none fails.
 */

const SCENARIO = 'emulator-restart';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

// 3 tenants x 3 configurations x 200 groups = 1,800 rows at 30 writes/s per tenant: about 20 s of
// Graph time, plus the outage and the retries behind it.
const TENANTS = 3;
const CONFIGURATIONS = 3;
const GROUPS = 200;
const RATE = { max: 30, windowMs: 1000 };
const OUTAGE_MS = 10_000;

describe(`the emulator down for 10 s mid-rollout (seed ${dice.seed})`, () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes every row once it is back, none failed, each assigned exactly once', async () => {
    const s = (stack = await startStack({
      // Latency keeps requests on the wire, so the outage cuts some after their commit.
      emulator: { rateLimit: RATE, latencyMs: 100 },
      env: {
        GRAPH_RATE_LIMIT: `${RATE.max}/${RATE.windowMs}ms`,
        WORKER_CONCURRENCY: '16',
        // The product's defaults, not the fast ones the other integration tests use: the claim is
        // that a stock worker rides out a 10 s outage.
        RETRY_BASE_DELAY_MS: '1000',
        RETRY_MAX_ATTEMPTS: '8',
      },
    }));
    const workers = [await s.worker(), await s.worker()];
    const tenants = [s.tenantId, ...Array.from({ length: TENANTS - 1 }, () => randomUUID())];
    const rows = makeRows(tenants, CONFIGURATIONS, GROUPS);
    await s.control.createConfigurations(rows);
    const started = Date.now();
    const rolloutId = await enqueueRows(s, rows);
    log(`enqueued ${rows.length} rows as ${rolloutId}`);

    const before = await waitForFraction(s, rolloutId, dice.between(0.25, 0.6));
    await s.emulator.suspend();
    log(`emulator down at ${before.done}/${before.total} done`);
    await sleep(OUTAGE_MS);
    await s.emulator.resume();
    log('emulator back');

    await s.waitFinished(rolloutId, 240_000);
    log(`rollout finished ${((Date.now() - started) / 1000).toFixed(1)} s after enqueue`);
    await expectRolloutWhole(s, rolloutId, rows);

    // The outage was felt: rows met refused connections and retried.
    const logs = workers.map((w) => w.logs()).join('');
    const refused = logs
      .split('\n')
      .filter((l) => l.includes('transient failure; will retry') && l.includes('E_GRAPH_NETWORK')).length;
    log(`transient network failures retried: ${refused}`);
    expect(refused).toBeGreaterThan(0);
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  });
});

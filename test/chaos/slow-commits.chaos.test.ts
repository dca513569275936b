import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import { enqueueRows, statusOf } from '../support/rollout-checks.js';
import { chaosDice, chaosLog, expectRolloutWhole } from './support/chaos-run.js';

/**
 * Graph takes one POST in ten on, answers 504 at once, and commits it only after the client's own
 * timeout (GRAPH_TIMEOUT_MS) would have given up on it. Each of those rows is in doubt: posting again
 * would make a duplicate, calling it failed would be a lie. The settle delay (GRAPH_SETTLE_MS, which
 * must exceed how late Graph commits) and the shared listing read make each row end created exactly
 * once, with no failure. Thousands of rows, so the doubt hits many rows of the same configuration
 * at once and the shared read is exercised, not just the single-row path.
 */

const SCENARIO = 'slow-commits';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

const GRAPH_TIMEOUT_MS = 1000;
// Beyond the client's timeout, inside the settle delay: the contract the README states.
const SLOW_COMMIT_MS = 1800;
const GRAPH_SETTLE_MS = 2500;
// 8 tenants x 3 configurations x 125 groups = 3,000 rows.
const TENANTS = 8;
const CONFIGURATIONS = 3;
const GROUPS = 125;

describe(`slow commits beyond the client timeout on 10% of POSTs (seed ${dice.seed})`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { faults: { slowCommit: 0.1 }, slowCommitMs: SLOW_COMMIT_MS, seed: dice.seed, latencyMs: 5 },
      env: {
        GRAPH_TIMEOUT_MS: String(GRAPH_TIMEOUT_MS),
        GRAPH_SETTLE_MS: String(GRAPH_SETTLE_MS),
        RETRY_BASE_DELAY_MS: '200',
        WORKER_CONCURRENCY: '32',
      },
    });
    await stack.worker();
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('ends every row created or already-assigned, none failed, each assigned exactly once', async () => {
    const tenants = Array.from({ length: TENANTS }, () => randomUUID());
    const rows = makeRows(tenants, CONFIGURATIONS, GROUPS);
    await stack.control.createConfigurations(rows);
    // A few groups existed before the rollout, and one of them is also in doubt on the way.
    const preexisting = dice.pick(rows, 15);
    for (const r of preexisting) await stack.control.createAssignment(r.tenantId, r.configurationId, r.groupId);

    const started = Date.now();
    const rolloutId = await enqueueRows(stack, rows);
    log(`enqueued ${rows.length} rows as ${rolloutId}`);
    await stack.waitFinished(rolloutId, 240_000);
    const seconds = (Date.now() - started) / 1000;

    const stats = await stack.control.stats();
    const slow = Object.values(stats.tenants).reduce((n, t) => n + t.faults.slowCommit, 0);
    const accepted = Object.values(stats.tenants).reduce((n, t) => n + t.writesAccepted, 0);
    const status = await statusOf(stack, rolloutId);
    log(
      `finished in ${seconds.toFixed(1)} s: created ${status.created}, already-assigned ${status.alreadyAssigned}, failed ${status.failed}; ` +
        `${accepted} POSTs accepted, ${slow} of them slow commits (${((100 * slow) / accepted).toFixed(1)}%)`,
    );

    await expectRolloutWhole(stack, rolloutId, rows);
    expect(status.alreadyAssigned).toBe(preexisting.length);
    // Each slow commit is one accepted POST whose row must not have posted again: accepted POSTs are
    // exactly the rows created, whatever the number of doubts.
    expect(accepted).toBe(rows.length - preexisting.length);
    // The fault really hit about one POST in ten, so this run proves something.
    expect(slow / accepted).toBeGreaterThan(0.06);
    expect(slow / accepted).toBeLessThan(0.14);
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FaultKind } from '../../emulator/emulator-options.js';
import { makeRows, useStack } from '../support/stack.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * How long a row waits after its POST ended in doubt. GRAPH_SETTLE_MS is for a commit that lands
 * late, after a timeout, a dropped connection or a 5xx; it is set to a minute here, so a row that
 * waited it would hold the rollout far past these tests' deadlines. A POST refused with a 503 and
 * Retry-After is looked for once the Retry-After is over; a POST committed before its connection
 * dropped is found by a look right away. Each row is still assigned exactly once.
 */
describe('POSTs that end in doubt without a late commit', () => {
  const stack = useStack(
    { emulator: { seed: 5, faultRetryAfterMs: 500 }, env: { GRAPH_SETTLE_MS: '60000', RETRY_MAX_ATTEMPTS: '20' } },
    { workers: 2 },
  );

  const cases: { kind: FaultKind; what: string }[] = [
    { kind: 'serviceUnavailable', what: 'POSTs refused with a 503 and Retry-After are looked for once it is over' },
    { kind: 'commitThenReset', what: 'POSTs committed before their connection dropped are found at once' },
  ];

  it.each(cases)('$what, not a settle delay later, and each row is assigned once', async ({ kind }) => {
    const tenant = randomUUID();
    // One group per configuration: the look right after a POST is made at once only when no other
    // row's read of the same listing holds it up; held up, the row falls back to the settle delay
    // (landedAlready), which this test's minute-long GRAPH_SETTLE_MS would turn into a timeout.
    const rows = makeRows([tenant], 20, 1);
    await stack.control.createConfigurations(rows);
    await stack.control.setFaults({ [kind]: 0.3 });
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 20_000);
    await stack.control.setFaults({});

    expect((await stack.control.stats()).tenants[tenant]?.faults[kind] ?? 0).toBeGreaterThan(0);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectEachAssignedOnce(stack, rows);
  });
});

/**
 * A row whose POST faulted had its turn in the lane: its next POST takes the next slot the budget
 * allows, not one behind every row still waiting for its first. Under 5 writes/s, 60 rows take about
 * 11 s; a row of the first 20 (first POST within about 3 s) that had to post again ends seconds
 * before the last row, not in the rollout's last seconds with the backlog. The budget still holds.
 */
describe('a row posting again after a fault', () => {
  const stack = useStack(
    {
      emulator: { seed: 3, faultRetryAfterMs: 300, rateLimit: { max: 5, windowMs: 1000 } },
      env: { GRAPH_RATE_LIMIT: '5/1s', RETRY_MAX_ATTEMPTS: '20' },
    },
    { workers: 2 },
  );

  it('takes the next slot the budget allows, ahead of the backlog, and the budget holds', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 2, 30);
    await stack.control.createConfigurations(rows);
    await stack.control.setFaults({ serviceUnavailable: 0.15 });
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 40_000);
    await stack.control.setFaults({});

    const report = await reportOf(stack, rolloutId);
    expectAllSucceeded(report, rows);
    await expectEachAssignedOnce(stack, rows);
    const endedAt = report.map((r) => Date.parse(String(r.finishedAt)));
    const lastEnd = Math.max(...endedAt);
    const retriedEarly = report.filter((r) => r.row <= 20 && r.attempts >= 2);
    expect(retriedEarly.length).toBeGreaterThan(0);
    expect(retriedEarly.filter((r) => Date.parse(String(r.finishedAt)) > lastEnd - 3000).map((r) => r.row)).toEqual([]);
    const stats = await stack.control.stats(1000);
    expect(stats.tenants[tenant]?.throttled).toBe(0);
    expect(stats.tenants[tenant]?.maxWritesInWindow).toBeLessThanOrEqual(5);
  });
});

/**
 * A POST that cannot have reached Graph (its connection refused: Graph's front door is down) leaves
 * nothing to look for. Its row posts again after its backoff; before, the `sent` mark it left made
 * the retry wait GRAPH_TIMEOUT_MS + GRAPH_SETTLE_MS (here over a minute) to look for it first.
 */
describe('a POST whose connection was refused', () => {
  const stack = useStack(
    {
      env: {
        GRAPH_RATE_LIMIT: '2/1s',
        GRAPH_SETTLE_MS: '60000',
        RETRY_BASE_DELAY_MS: '200',
        RETRY_MAX_ATTEMPTS: '30',
      },
    },
    { workers: 1 },
  );

  it('is posted again after its backoff, without waiting to look for it', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 1, 12);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    // Once the first sends went through, Graph goes away for a while, then comes back.
    const deadline = Date.now() + 10_000;
    while (((await stack.control.stats()).tenants[tenant]?.writesAccepted ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('no POST was accepted');
      await new Promise((r) => setTimeout(r, 20));
    }
    await stack.emulator.suspend();
    await new Promise((r) => setTimeout(r, 2500));
    await stack.emulator.resume();
    await stack.waitFinished(rolloutId, 20_000);

    const report = await reportOf(stack, rolloutId);
    expectAllSucceeded(report, rows);
    await expectEachAssignedOnce(stack, rows);
    // Some POSTs were refused and sent again.
    expect(report.some((r) => r.attempts >= 2)).toBe(true);
  });
});

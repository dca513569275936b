import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeRows, useStack } from '../support/stack.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * A listing page Graph faults on without saying when to come back (a 500) is read again in place a
 * moment later: a read commits nothing. Handed to the row's retry policy instead, it would spend an
 * attempt and wait the row's backoff, here a minute, with every row waiting on that listing. One
 * worker taking one row at a time keeps the emulator's seeded fault draws in the same order on
 * every run.
 */
describe('a listing page Graph faults on', () => {
  const stack = useStack(
    {
      emulator: { seed: 7, readFaults: { internalError: 0.4 } },
      env: { WORKER_CONCURRENCY: '1', RETRY_BASE_DELAY_MS: '60000' },
    },
    { workers: 1 },
  );

  it('is read again in place, not after the row’s backoff', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 8, 1);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 20_000);

    expect((await stack.control.stats()).tenants[tenant]?.readFaults.internalError ?? 0).toBeGreaterThan(0);
    const report = await reportOf(stack, rolloutId);
    expectAllSucceeded(report, rows);
    // No row spent an attempt on a faulted read: one POST each.
    expect(report.map((r) => r.attempts)).toEqual(rows.map(() => 1));
    await expectEachAssignedOnce(stack, rows);
  });
});

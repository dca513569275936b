import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeRows, useStack } from '../support/stack.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * A POST refused by throttling is looked for (its configuration read) as soon as its lane reopens,
 * not GRAPH_SETTLE_MS later: throttling refuses at Graph's door, and the settle delay is for slow
 * commits, which follow timeouts and 5xx. With a settle delay of a minute, a rollout that is
 * throttled all along still finishes in seconds, each row assigned once.
 */
describe('rows refused by throttling', () => {
  const stack = useStack(
    { emulator: { rateLimit: { max: 5, windowMs: 1000 } }, env: { GRAPH_SETTLE_MS: '60000' } },
    { workers: 2 },
  );

  it('look again when the lane reopens, not a settle delay later, and are each assigned once', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 2, 15);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 45_000);

    expect((await stack.control.stats()).tenants[tenant]?.throttled ?? 0).toBeGreaterThan(0);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectEachAssignedOnce(stack, rows);
  });
});

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
    const rows = makeRows([tenant], 2, 10);
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

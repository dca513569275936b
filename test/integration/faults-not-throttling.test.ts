import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../../lib/redis/redis-keys.js';
import { makeRows, useStack } from '../support/stack.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * A 5xx, a reset or a 503 without Retry-After says nothing about a tenant's budget: a storm of them
 * is retried row by row and never pauses the lane or teaches it a pace. Before, the lane read every
 * 503 as throttling and a fault mix without any throttling slowed a rollout fiftyfold.
 */
describe('a storm of Graph faults without throttling', () => {
  const stack = useStack(
    { emulator: { seed: 11 }, env: { GRAPH_SETTLE_MS: '300', RETRY_BASE_DELAY_MS: '50', RETRY_MAX_ATTEMPTS: '30' } },
    { workers: 2 },
  );

  it('leaves the lane unpaused and unlearned, and ends every row succeeded, each assigned once', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 3, 20);
    await stack.control.createConfigurations(rows);
    await stack.control.setFaults({
      serviceUnavailableNoRetryAfter: 0.1,
      internalError: 0.05,
      badGateway: 0.03,
      gatewayTimeout: 0.03,
      reset: 0.03,
      commitThenReset: 0.03,
    });
    await stack.control.setReadFaults({ serviceUnavailableNoRetryAfter: 0.15, internalError: 0.05 });
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 100_000);
    await stack.control.setFaults({});
    await stack.control.setReadFaults({});

    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectEachAssignedOnce(stack, rows);
    const stats = await stack.control.stats();
    // The faults happened (reads and writes failed many times over), no throttling did...
    const t = stats.tenants[tenant]!;
    expect(Object.values(t.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    expect(Object.values(t.readFaults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(t.throttled).toBe(0);
    // ...and the lane never paused for them nor learned a budget from them.
    const lane = await stack.redis.hgetall(new RedisKeys(stack.prefix).lane(tenant));
    expect(Number(lane.max ?? 0)).toBe(0);
    expect(lane.lastThrottleAt).toBeUndefined();
    expect(lane.lastAdaptAt).toBeUndefined();
  });
});

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { startStack, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap } from '../support/graph-tap.js';
import {
  enqueueRows,
  expectEachAssignedOnce,
  expectFinished,
  expectNoneAssigned,
  reportOf,
} from '../support/rollout-checks.js';

/**
 * A configuration that does not exist is a permanent error: its rows fail with Graph's 404 and our
 * E_GRAPH_NOT_FOUND, and the rollout learns it from about one request for the whole configuration,
 * not one per row. Rows of configurations that exist carry on beside them.
 */
describe('rows of a configuration that does not exist', () => {
  let stack: Stack;
  let tap: GraphTap;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { strictConfigurations: true },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100' },
    });
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'));
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
    await stack.worker({ GRAPH_BASE_URL: tap.graphBaseUrl });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('fail with 404 ResourceNotFound and E_GRAPH_NOT_FOUND after about one request, while the rest are created', async () => {
    const goodTenant = stack.tenantId;
    const missingTenant = randomUUID();
    const existing = await stack.control.createConfiguration(goodTenant, { displayName: 'Office baseline' });
    const missingConfiguration = randomUUID();
    const good: AssignmentRow[] = Array.from({ length: 15 }, () => ({
      tenantId: goodTenant,
      configurationId: existing.id,
      groupId: randomUUID(),
    }));
    const bad: AssignmentRow[] = Array.from({ length: 25 }, () => ({
      tenantId: missingTenant,
      configurationId: missingConfiguration,
      groupId: randomUUID(),
    }));
    // Interleaved, so the bad rows are not all handled by one job in a row.
    const rows = good.flatMap((g, i) => [g, bad[i]!]).concat(bad.slice(good.length));
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);

    await expectFinished(stack, rolloutId, rows.length, bad.length);
    const report = await reportOf(stack, rolloutId);
    expect(report).toHaveLength(rows.length);
    for (const r of report.filter((x) => x.configurationId === missingConfiguration)) {
      expect(r).toMatchObject({
        outcome: 'failed',
        httpStatus: 404,
        errorCode: 'ResourceNotFound',
        code: 'E_GRAPH_NOT_FOUND',
        assignmentId: null,
      });
      expect(r.errorMessage).toContain(missingConfiguration);
    }
    for (const r of report.filter((x) => x.configurationId === existing.id))
      expect(r).toMatchObject({ outcome: 'created', httpStatus: 201 });
    await expectEachAssignedOnce(stack, good);
    await expectNoneAssigned(stack, bad);

    // About one request for the whole missing configuration, not one per row.
    const stats = await stack.control.stats();
    const missing = stats.tenants[missingTenant];
    expect(missing?.writesAccepted ?? 0).toBe(0);
    expect(missing?.reads ?? 0).toBeGreaterThanOrEqual(1);
    expect(missing?.reads ?? 0).toBeLessThanOrEqual(2);
    const toMissing = tap.requests.filter((r) => r.path.toLowerCase().includes(missingConfiguration));
    expect(toMissing.length).toBeGreaterThanOrEqual(1);
    expect(toMissing.length).toBeLessThanOrEqual(2);
    expect(toMissing.filter((r) => r.method === 'POST')).toEqual([]);
  });
});

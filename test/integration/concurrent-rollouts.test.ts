import { describe, expect, it } from 'vitest';
import { makeRows, useStack } from '../support/stack.js';
import { enqueueRows, reportOf } from '../support/rollout-checks.js';

/**
 * The same rows in three rollouts running at once (a file enqueued three times, or a schedule and an
 * event for the same groups): each triple is posted by one rollout only. The others' rows end
 * `already-assigned`, whatever order their checks and POSTs interleave in.
 */
describe('rollouts of the same rows at once', () => {
  const stack = useStack({ env: { WORKER_CONCURRENCY: '32', GRAPH_SETTLE_MS: '300' } }, { workers: 2 });

  it('create each assignment once: one rollout creates it, the others find it already assigned', async () => {
    const rows = makeRows([stack.tenantId], 4, 60);
    await stack.control.createConfigurations(rows);
    const ids = await Promise.all([0, 1, 2].map(() => enqueueRows(stack, rows)));
    for (const id of ids) await stack.waitFinished(id, 90_000);

    const truth = await stack.control.truth();
    expect(truth.duplicates).toBe(0);
    for (const r of rows) expect(truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId]).toBe(1);
    const reports = await Promise.all(ids.map((id) => reportOf(stack, id)));
    for (const report of reports)
      expect(report.every((row) => row.outcome === 'created' || row.outcome === 'already-assigned')).toBe(true);
    const created = reports.flat().filter((row) => row.outcome === 'created').length;
    expect(created).toBe(rows.length);
  });
});

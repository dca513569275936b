import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncJson } from '../../cli/drift-output.js';
import type { Outcome } from '../../lib/outcome.js';
import { makeRows, rolloutIdOf, startStack, type Stack } from '../support/stack.js';

/**
 * A sync's GETs pass the tenant's lane like the workers' POSTs: with a rollout of the same tenant
 * running, the writes stay within GRAPH_RATE_LIMIT (it budgets writes, as Intune does; reads have
 * their own, ten times higher) and the rollout keeps going while the sync reads.
 */
describe('sync reads pass the tenant lane', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ emulator: { pageSize: 2 }, env: { GRAPH_RATE_LIMIT: '10/1s' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a sync of 30 configurations shares the lane with a running rollout and does not starve it', async () => {
    const configurations = Array.from({ length: 30 }, () => randomUUID());
    for (const c of configurations) {
      for (let i = 0; i < 3; i++) await stack.control.createAssignment(stack.tenantId, c, randomUUID());
    }
    const path = join(stack.dir, 'fleet.yaml');
    writeFileSync(
      path,
      `tenants:\n  - tenantId: ${stack.tenantId}\n    configurations:\n${configurations.map((c) => `      - configurationId: ${c}\n        groups: []\n`).join('')}`,
    );

    await stack.worker();
    const rows = makeRows([stack.tenantId], 4, 10);
    await stack.control.createConfigurations(rows);
    const rolloutId = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));
    const syncStart = Date.now();
    const result = await stack.cli(['sync', path, '--dry-run', '--json']);
    const syncEnd = Date.now();
    expect(result.code, result.stderr).toBe(0);
    const drift = JSON.parse(result.stdout) as SyncJson;
    // 3 assignments each, none wanted: every one is extra (and only reported: no --prune).
    expect(drift.summary).toMatchObject({ configurations: 30, extra: 90, unreadable: 0 });

    await stack.waitFinished(rolloutId);
    const report = JSON.parse((await stack.cli(['report', rolloutId, '--format', 'json'])).stdout) as Outcome[];
    expect(report.every((r) => r.outcome === 'created')).toBe(true);
    // The rollout made progress while the sync read: rows finished between its start and end.
    const during = report.filter((r) => {
      const t = Date.parse(r.finishedAt);
      return t > syncStart && t < syncEnd;
    });
    expect(during.length).toBeGreaterThan(0);

    const stats = (await stack.control.stats(1000)).tenants[stack.tenantId]!;
    expect(stats.reads).toBeGreaterThanOrEqual(60);
    expect(stats.maxWritesInWindow).toBeLessThanOrEqual(10);
    expect(stats.throttled).toBe(0);
  });
});

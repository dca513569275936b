import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeRows, rolloutIdOf, useStack } from '../support/stack.js';
import {
  expectEachAssignedOnce,
  expectNoneAssigned,
  reportOf,
  statusOf,
  waitUntil,
  progressOf,
} from '../support/rollout-checks.js';

/**
 * Steering a rollout: cancel stops what is queued and lets what is in flight finish (nothing half
 * done: a cancelled row has no assignment in Graph); retry re-runs failed rows with a fresh attempt
 * budget, keeps their history, and never enqueues a row twice, even when two retries race.
 */
describe('cancel', () => {
  // 5 writes/s: a 60-row rollout takes ~12 s, long enough to cancel in the middle.
  const stack = useStack(
    { emulator: { rateLimit: { max: 5, windowMs: 1000 } }, env: { GRAPH_RATE_LIMIT: '5/1s' } },
    { workers: 1 },
  );

  it('cancels queued rows mid-rollout, lets in-flight rows finish, and leaves no cancelled row assigned', async () => {
    const rows = makeRows([stack.tenantId], 1, 60);
    await stack.control.createConfigurations(rows);
    const rolloutId = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));
    await waitUntil('a few rows done', async () => (await progressOf(stack, rolloutId)).done >= 5);

    const cancel = await stack.cli(['cancel', rolloutId, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    const result = JSON.parse(cancel.stdout) as { cancelled: number; inFlight: number };
    expect(result.cancelled).toBeGreaterThan(0);

    await stack.waitFinished(rolloutId, 30_000);
    const status = await statusOf(stack, rolloutId);
    expect(status.state).toBe('cancelled');
    expect(status.cancelled).toBeGreaterThanOrEqual(result.cancelled);
    expect(status.succeeded + status.failed + status.cancelled).toBe(60);
    expect(status.failed).toBe(0);

    const report = await reportOf(stack, rolloutId);
    const done = report.filter((r) => r.outcome === 'created');
    const stopped = report.filter((r) => r.outcome === 'cancelled');
    expect(done.length + stopped.length).toBe(60);
    await expectEachAssignedOnce(stack, done);
    await expectNoneAssigned(stack, stopped);

    const again = await stack.cli(['cancel', rolloutId]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/E_ROLLOUT_STATE: .*already cancelled/);
  });

  it('refuses to cancel a finished rollout or an unknown one, changing nothing', async () => {
    const rows = makeRows([stack.tenantId], 1, 3);
    await stack.control.createConfigurations(rows);
    const rolloutId = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));
    await stack.waitFinished(rolloutId, 30_000);
    const before = await statusOf(stack, rolloutId);
    const refused = await stack.cli(['cancel', rolloutId]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already finished/);
    expect(await statusOf(stack, rolloutId)).toEqual(before);
    const unknown = await stack.cli(['cancel', randomUUID()]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/E_ROLLOUT_NOT_FOUND/);
  });
});

describe('retry', () => {
  const stack = useStack({ emulator: { strictConfigurations: true } }, { workers: 1 });

  it('re-runs failed rows once their cause is fixed, in place, keeping their history; racing retries enqueue each row once', async () => {
    const present = randomUUID();
    const missing = randomUUID();
    await stack.control.createConfiguration(stack.tenantId, { id: present });
    const rows = [
      ...Array.from({ length: 10 }, () => ({
        tenantId: stack.tenantId,
        configurationId: present,
        groupId: randomUUID(),
      })),
      ...Array.from({ length: 10 }, () => ({
        tenantId: stack.tenantId,
        configurationId: missing,
        groupId: randomUUID(),
      })),
    ];
    const rolloutId = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--json']));
    await stack.waitFinished(rolloutId, 30_000);
    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'finished', created: 10, failed: 10 });

    // The admin creates the missing configuration, then retries twice at once.
    await stack.control.createConfiguration(stack.tenantId, { id: missing });
    const [a, b] = await Promise.all([
      stack.cli(['retry', rolloutId, '--json']),
      stack.cli(['retry', rolloutId, '--json']),
    ]);
    const retried = [a, b]
      .filter((r) => r.code === 0)
      .map((r) => (JSON.parse(r.stdout) as { retried: number }).retried);
    expect(retried.reduce((x, y) => x + y, 0)).toBe(10);
    for (const r of [a, b]) if (r.code !== 0) expect(r.stderr).toMatch(/nothing to retry/);

    await stack.waitFinished(rolloutId, 30_000);
    const status = await statusOf(stack, rolloutId);
    expect(status).toMatchObject({ state: 'finished', created: 20, failed: 0, pending: 0 });
    expect(status.retries).toBeGreaterThanOrEqual(1);
    const report = await reportOf(stack, rolloutId);
    expect(report.map((r) => r.groupId)).toEqual(rows.map((r) => r.groupId));
    for (const r of report.slice(10)) expect(r).toMatchObject({ outcome: 'created', retries: 1 });
    for (const r of report.slice(0, 10)) expect(r.retries ?? 0).toBe(0);
    await expectEachAssignedOnce(stack, rows);

    const nothing = await stack.cli(['retry', rolloutId]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/no failed rows: nothing to retry/);
  });
});

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import {
  enqueueRows,
  expectAllSucceeded,
  expectEachAssignedOnce,
  progressOf,
  reportOf,
  waitUntil,
} from '../support/rollout-checks.js';

/**
 * A configuration's listing is read once per rollout and never starved by the rollout's own backlog.
 * Both failures were one livelock in a 2,000-row rollout at 25 writes/s: its second chunk of 1,000
 * jobs was enqueued after the listing read began, so those rows wanted a newer one; by then the
 * configuration had 1,000 assignments (ten pages), and each page waited behind 40 s of promised
 * slots, longer than a read may hold its worker, so the read restarted for ever and the rollout
 * stopped at 1,000 writes.
 */
describe('configuration listings under a backlog', () => {
  let stack: Stack;
  afterEach(async () => {
    await stack?.stop();
  });

  it('rows enqueued after their configuration’s read began use that read: a 2,500-row rollout reads its configuration once', async () => {
    stack = await startStack({ env: { WORKER_CONCURRENCY: '32' } });
    await stack.worker();
    const rows = makeRows([stack.tenantId], 1, 2500);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 120_000);
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    expect((await stack.control.stats()).tenants[stack.tenantId]!.reads).toBe(1);
    await expectEachAssignedOnce(stack, rows);
  });

  it('reads a many-page configuration ahead of a long backlog of promised slots', async () => {
    stack = await startStack({
      emulator: { pageSize: 20, rateLimit: { max: 10, windowMs: 1000 } },
      env: { GRAPH_RATE_LIMIT: '10/1s', WORKER_CONCURRENCY: '16' },
    });
    const large = randomUUID();
    for (let i = 0; i < 70; i++) await stack.control.createAssignment(stack.tenantId, large, randomUUID());
    await stack.worker();
    // 400 rows at 10/s: slots promised 40 s ahead, more than a read may wait in place (30 s).
    const backlogRows = makeRows([stack.tenantId], 1, 400);
    await stack.control.createConfigurations(backlogRows);
    const backlog = await enqueueRows(stack, backlogRows);
    await waitUntil(
      'a backlog of promised slots',
      async () =>
        (await stack.redis.zcount(`${stack.prefix}:lane:${stack.tenantId}:schedule`, Date.now(), '+inf')) >= 300,
      30_000,
    );
    const readsBefore = (await stack.control.stats()).tenants[stack.tenantId]!.reads;

    const row = { tenantId: stack.tenantId, configurationId: large, groupId: randomUUID() };
    const rolloutId = await enqueueRows(stack, [row]);
    const listing = `${stack.prefix}:listing:${stack.tenantId}:${large}`;
    await waitUntil(
      'the four-page listing read',
      async () => (await stack.redis.hget(listing, '_status')) === 'ok',
      15_000,
    );
    expect(await stack.redis.hlen(listing)).toBe(70 + 2);
    expect((await stack.control.stats()).tenants[stack.tenantId]!.reads - readsBefore).toBe(4);
    // It went ahead (GRAPH_RATE_LIMIT budgets writes; the read only had to wait out a pause, and
    // there was none): most of the backlog is still waiting.
    expect((await progressOf(stack, backlog)).pending).toBeGreaterThan(200);
    // The row itself posts at the end of the schedule, like any other; not worth waiting for here.
    for (const id of [backlog, rolloutId]) expect((await stack.cli(['cancel', id])).code).toBe(0);
  });
});

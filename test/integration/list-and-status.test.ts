import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import type { RolloutStatus } from '../../lib/rollout/rollout-store.js';
import { rolloutIdOf, startStack, type Stack } from '../support/stack.js';
import { statusOf } from '../support/rollout-checks.js';

/**
 * `assignments list` and `assignments status` through the real CLI after real rollouts: names,
 * created times, totals per outcome and state per rollout, newest first; per-tenant progress and
 * paused lanes in `status`.
 */
describe('list and status', () => {
  let stack: Stack;
  let otherTenant: string;
  let pilot: string;
  let second: string;

  beforeAll(async () => {
    stack = await startStack({
      emulator: { strictConfigurations: true },
      env: { RETRY_BASE_DELAY_MS: '100', GRAPH_SETTLE_MS: '500' },
    });
    otherTenant = randomUUID();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('lists nothing before the first rollout', async () => {
    expect(await stack.cli(['list'])).toMatchObject({
      code: 0,
      stdout: `no rollouts (QUEUE_PREFIX=${stack.prefix})\n`,
    });
    expect(await stack.cli(['list', '--json'])).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  it('lists rollouts newest first with name, created time, totals per outcome and state', async () => {
    const good = (await stack.control.createConfiguration(stack.tenantId)).id;
    const rows: AssignmentRow[] = [
      ...Array.from({ length: 12 }, () => ({ tenantId: stack.tenantId, configurationId: good, groupId: randomUUID() })),
      // a configuration the other tenant does not have: 404, failed
      ...Array.from({ length: 4 }, () => ({
        tenantId: otherTenant,
        configurationId: randomUUID(),
        groupId: randomUUID(),
      })),
    ];
    await stack.control.createAssignment(stack.tenantId, good, rows[0]!.groupId);
    pilot = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(rows), '--name', 'Finance pilot', '--json']));
    const fresh = Array.from({ length: 3 }, () => ({
      tenantId: stack.tenantId,
      configurationId: good,
      groupId: randomUUID(),
    }));
    second = rolloutIdOf(await stack.cli(['enqueue', stack.writeCsv(fresh), '--json']));
    await stack.worker();
    await stack.waitFinished(pilot);
    await stack.waitFinished(second);

    const run = await stack.cli(['list', '--json']);
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as Omit<RolloutStatus, 'tenants'>[];
    expect(listed.map((r) => r.rolloutId)).toEqual([second, pilot]);
    expect(listed[1]).toMatchObject({
      name: 'Finance pilot',
      state: 'finished',
      total: 16,
      pending: 0,
      created: 11,
      alreadyAssigned: 1,
      failed: 4,
      cancelled: 0,
    });
    expect(listed[0]).toMatchObject({
      name: null,
      state: 'finished',
      total: 3,
      pending: 0,
      created: 3,
      alreadyAssigned: 0,
      failed: 0,
    });
    for (const r of listed) {
      expect(new Date(r.createdAt).toISOString()).toBe(r.createdAt);
      expect(r).not.toHaveProperty('tenants');
    }
    expect(Date.parse(listed[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(listed[1]!.createdAt));

    const human = await stack.cli(['list']);
    expect(human.code).toBe(0);
    const [header, ...lines] = human.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^rollout\s+name\s+created at\s+state\s+total\s+pending\s+created\s+already\s+failed\s+cancelled$/,
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${second}\\s+-\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+finished\\s+3\\s+0\\s+3\\s+0\\s+0\\s+0$`,
      ),
    );
    expect(lines[1]).toMatch(
      new RegExp(`^${pilot}\\s+Finance pilot\\s+\\S+\\s+finished\\s+16\\s+0\\s+11\\s+1\\s+4\\s+0$`),
    );
    // aligned: every column starts at the same place on every line
    for (const column of ['state', 'failed']) {
      const at = header!.indexOf(column);
      for (const line of lines) expect(line.slice(at - 2, at)).toBe('  ');
    }
  });

  it('status --json keeps its fields and adds per-tenant progress with paused lanes', async () => {
    // The other tenant's lane is paused (as after a 429 with Retry-After) for the next minute.
    const until = Date.now() + 60_000;
    await stack.redis.hset(`${stack.prefix}:lane:${otherTenant}`, 'pausedUntil', until);
    const status = await statusOf(stack, pilot);
    expect(Object.keys(status)).toEqual([
      'rolloutId',
      'name',
      'source',
      'createdAt',
      'state',
      'total',
      'deleteRows',
      'pending',
      'succeeded',
      'failed',
      'created',
      'alreadyAssigned',
      'deleted',
      'alreadyDeleted',
      'cancelled',
      'finishedAt',
      'cancelledAt',
      'retries',
      'tenants',
    ]);
    expect(status).toMatchObject({
      name: 'Finance pilot',
      state: 'finished',
      total: 16,
      deleteRows: 0,
      succeeded: 12,
      failed: 4,
      deleted: 0,
      alreadyDeleted: 0,
    });
    expect(status.tenants).toEqual(
      expect.arrayContaining([
        {
          tenantId: stack.tenantId,
          total: 12,
          pending: 0,
          succeeded: 12,
          failed: 0,
          created: 11,
          alreadyAssigned: 1,
          deleted: 0,
          alreadyDeleted: 0,
          cancelled: 0,
          pausedUntil: null,
        },
        {
          tenantId: otherTenant,
          total: 4,
          pending: 0,
          succeeded: 0,
          failed: 4,
          created: 0,
          alreadyAssigned: 0,
          deleted: 0,
          alreadyDeleted: 0,
          cancelled: 0,
          pausedUntil: new Date(until).toISOString(),
        },
      ]),
    );
    expect(status.tenants).toHaveLength(2);

    const human = await stack.cli(['status', pilot]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`rollout   ${pilot} (Finance pilot)\n`);
    expect(human.stdout).toMatch(/^state {5}finished at \S+$/m);
    expect(human.stdout).toMatch(/^failed {4}4$/m);
    expect(human.stdout).toMatch(/^tenant\s+total\s+pending\s+created\s+already\s+failed\s+cancelled\s+lane$/m);
    expect(human.stdout).toMatch(new RegExp(`^${stack.tenantId}\\s+12\\s+0\\s+11\\s+1\\s+0\\s+0\\s+open$`, 'm'));
    expect(human.stdout).toMatch(
      new RegExp(
        `^${otherTenant}\\s+4\\s+0\\s+0\\s+0\\s+4\\s+0\\s+paused until ${new Date(until).toISOString()}$`,
        'm',
      ),
    );
    await stack.redis.hdel(`${stack.prefix}:lane:${otherTenant}`, 'pausedUntil');
  });

  it('list refuses a bad --limit as a usage error', async () => {
    const run = await stack.cli(['list', '--limit', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--limit');
    const one = JSON.parse((await stack.cli(['list', '--json', '--limit', '1'])).stdout) as { rolloutId: string }[];
    expect(one.map((r) => r.rolloutId)).toEqual([second]);
  });
});

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleInfo } from '../../producer/sync-schedules.js';
import { startStack, type Stack } from '../support/stack.js';

function writeDesired(stack: Stack, configurationId: string, groups: string[]): string {
  const path = join(stack.dir, `desired-${randomUUID().slice(0, 6)}.yaml`);
  writeFileSync(
    path,
    `tenants:\n  - tenantId: ${stack.tenantId}\n    configurations:\n      - configurationId: ${configurationId}\n        groups: [${groups.join(', ')}]\n`,
  );
  return path;
}

async function schedules(stack: Stack): Promise<ScheduleInfo[]> {
  const result = await stack.cli(['schedule', 'list', '--json']);
  if (result.code !== 0) throw new Error(`schedule list failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ScheduleInfo[];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('assignments schedule', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('rejects a bad cron, time zone or name and stores nothing', async () => {
    const file = writeDesired(stack, randomUUID(), [randomUUID()]);
    for (const args of [
      ['schedule', 'add', 'nightly', file, '--cron', 'every night'],
      ['schedule', 'add', 'nightly', file, '--cron', '0 2 * * *', '--tz', 'Mars/Olympus'],
      ['schedule', 'add', 'night:ly', file, '--cron', '0 2 * * *'],
      ['schedule', 'add', 'nightly', file],
    ]) {
      const result = await stack.cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^error E_USAGE: /);
    }
    expect(await schedules(stack)).toEqual([]);
    const unknown = await stack.cli(['schedule', 'remove', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('E_SCHEDULE_NOT_FOUND');
  });

  it('adds a cron schedule with its time zone and shows its next run', async () => {
    const file = writeDesired(stack, randomUUID(), [randomUUID()]);
    const added = await stack.cli([
      'schedule',
      'add',
      'nightly',
      file,
      '--cron',
      '0 2 * * *',
      '--tz',
      'Europe/Berlin',
      '--prune',
    ]);
    expect(added.code, added.stderr).toBe(0);
    const [nightly] = await schedules(stack);
    expect(nightly).toMatchObject({
      name: 'nightly',
      cron: '0 2 * * *',
      tz: 'Europe/Berlin',
      prune: true,
      pruneThresholdPercent: 10,
      configurations: 1,
      groups: 1,
      runs: 0,
      lastRun: null,
    });
    // 02:00 in Berlin is 00:00 or 01:00 UTC.
    expect(new Date(nightly!.nextRunAt!).getUTCHours()).toBeLessThanOrEqual(1);
    expect((await stack.cli(['schedule', 'remove', 'nightly'])).code).toBe(0);
    expect(await schedules(stack)).toEqual([]);
  });

  it('fires on the workers, records each run as a rollout, writes nothing once in sync, and uses the file as it was when added', async () => {
    const { id: configurationId } = await stack.control.createConfiguration(stack.tenantId);
    const groups = Array.from({ length: 3 }, () => randomUUID());
    const file = writeDesired(stack, configurationId, groups);
    const worker = await stack.worker();
    const added = await stack.cli(['schedule', 'add', 'often', file, '--cron', '*/2 * * * * *']);
    expect(added.code, added.stderr).toBe(0);
    // An edit after `schedule add` does not reach the schedule.
    writeDesired(stack, configurationId, [randomUUID()]);
    writeFileSync(file, 'tenants: []\n');

    // The rollout in `list` is the durable record of the first run: `lastRun` is overwritten by the
    // next run two seconds later, which a slow poll under load can miss.
    const rolloutId = await until('the first run', async () => {
      const rollouts = JSON.parse((await stack.cli(['list', '--json'])).stdout) as {
        rolloutId: string;
        name: string;
      }[];
      return rollouts.find((r) => r.name === 'often')?.rolloutId;
    });
    const status = await until('the rollout to finish', async () => {
      const s = JSON.parse((await stack.cli(['status', rolloutId, '--json'])).stdout) as {
        state: string;
        created: number;
        name: string;
        source: string;
      };
      return s.state === 'finished' ? s : undefined;
    });
    expect(status).toMatchObject({ created: 3, name: 'often' });
    expect(status.source).toContain('schedule often');
    const list = JSON.parse((await stack.cli(['list', '--json'])).stdout) as { rolloutId: string; name: string }[];
    expect(list.filter((r) => r.name === 'often').map((r) => r.rolloutId)).toEqual([rolloutId]);

    // Later runs find no drift: no new rollout, no write.
    const writes = (await stack.control.stats()).tenants[stack.tenantId]!.writesAccepted;
    const quiet = await until('a run without drift', async () =>
      (await schedules(stack)).find((s) => s.name === 'often' && s.lastRun?.result === 'no-drift'),
    );
    expect(quiet.runs).toBeGreaterThanOrEqual(2);
    await sleep(2500);
    expect((await stack.control.stats()).tenants[stack.tenantId]!.writesAccepted).toBe(writes);
    const after = JSON.parse((await stack.cli(['list', '--json'])).stdout) as { name: string }[];
    expect(after.filter((r) => r.name === 'often')).toHaveLength(1);
    expect((await stack.control.truth()).tenants[stack.tenantId]![configurationId]).toEqual(
      Object.fromEntries(groups.map((gr) => [gr, 1])),
    );

    expect((await stack.cli(['schedule', 'remove', 'often'])).code).toBe(0);
    expect(await schedules(stack)).toEqual([]);
    await worker.stop();
  });
});

/**
 * A slow Graph (every answer 700 ms late) and one row at a time: the rollout of a run takes several
 * seconds while the schedule fires every second, and reads are not held back by a lane backlog, so
 * a run that started while the rollout was still going would see its queued creates as missing.
 */
describe('assignments schedule against a slow Graph', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ emulator: { latencyMs: 700 }, env: { WORKER_CONCURRENCY: '1' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('never overlaps two runs: while a run’s rollout is still going, the next runs are skipped', async () => {
    const { id: configurationId } = await stack.control.createConfiguration(stack.tenantId);
    // Ten rows at 700 ms each keep the rollout going for 7 s or more: the skipped runs stay
    // visible in `lastRun` long enough for a poll that is slow under load.
    const groups = Array.from({ length: 10 }, () => randomUUID());
    const file = writeDesired(stack, configurationId, groups);
    const worker = await stack.worker();
    expect((await stack.cli(['schedule', 'add', 'busy', file, '--every', '1s'])).code).toBe(0);
    const skipped = await until('two skipped runs', async () =>
      (await schedules(stack)).find((s) => s.lastRun?.result === 'skipped' && s.runs >= 3),
    );
    expect(skipped.lastRun!.message).toContain('still has');
    await until('no drift', async () => (await schedules(stack)).find((s) => s.lastRun?.result === 'no-drift'));
    expect((await stack.cli(['schedule', 'remove', 'busy'])).code).toBe(0);
    const list = JSON.parse((await stack.cli(['list', '--json'])).stdout) as { name: string; created: number }[];
    const busy = list.filter((r) => r.name === 'busy');
    expect(busy).toHaveLength(1);
    expect(busy[0]!.created).toBe(10);
    const truth = await stack.control.truth();
    expect(truth.tenants[stack.tenantId]![configurationId]).toEqual(Object.fromEntries(groups.map((gr) => [gr, 1])));
    await worker.stop();
  });
});

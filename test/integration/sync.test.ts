import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncJson } from '../../cli/drift-output.js';
import type { Outcome } from '../../lib/outcome.js';
import { startStack, type Stack } from '../support/stack.js';

/** A desired-state YAML file in the stack's directory. */
function writeDesired(stack: Stack, tenants: Record<string, Record<string, string[]>>): string {
  const lines = ['tenants:'];
  for (const [tenantId, configurations] of Object.entries(tenants)) {
    lines.push(`  - tenantId: ${tenantId}`, '    configurations:');
    for (const [configurationId, groups] of Object.entries(configurations)) {
      lines.push(`      - configurationId: ${configurationId}`, `        groups: [${groups.join(', ')}]`);
    }
  }
  const path = join(stack.dir, `desired-${randomUUID().slice(0, 6)}.yaml`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Reads fail fast in these tests: 3 tries, 200 ms base backoff. */
const FAST_READS = { RETRY_MAX_ATTEMPTS: '3' };

/**
 * `assignments sync` through the real CLI and worker against the emulator in strict mode (unknown
 * configurations answer 404), two assignments per page so every listing takes several pages.
 */
describe('assignments sync', () => {
  let stack: Stack;
  const g = Array.from({ length: 8 }, () => randomUUID());
  /** Desired g0 g1 g2; holds g0 (present), g3 (extra), g0 again (duplicate). */
  let configA: string;
  /** Does not exist. */
  let missing: string;
  /** Exists with g5 and g6, but every read of it fails with 500. */
  let unreadable: string;
  let file: string;
  let duplicateOfG0: string;
  let extraG3: string;

  beforeAll(async () => {
    stack = await startStack({ emulator: { strictConfigurations: true, pageSize: 2 }, env: FAST_READS });
    configA = (await stack.control.createConfiguration(stack.tenantId, { id: randomUUID() })).id;
    unreadable = (await stack.control.createConfiguration(stack.tenantId, { id: randomUUID() })).id;
    missing = randomUUID();
    await stack.control.createAssignment(stack.tenantId, configA, g[0]!);
    extraG3 = (await stack.control.createAssignment(stack.tenantId, configA, g[3]!)).id;
    duplicateOfG0 = (await stack.control.createAssignment(stack.tenantId, configA, g[0]!)).id;
    await stack.control.createAssignment(stack.tenantId, unreadable, g[5]!);
    await stack.control.createAssignment(stack.tenantId, unreadable, g[6]!);
    await stack.control.setReadFailure(stack.tenantId, unreadable, 500);
    file = writeDesired(stack, {
      [stack.tenantId]: { [configA]: [g[0]!, g[1]!, g[2]!], [missing]: [g[4]!], [unreadable]: [] },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('--dry-run shows drift of every kind, exits 1 for what it could not read, and writes nothing', async () => {
    const truthBefore = await stack.control.truth();
    const result = await stack.cli(['sync', file, '--dry-run', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const drift = JSON.parse(result.stdout) as SyncJson;
    expect(drift.dryRun).toBe(true);
    expect(drift.summary).toMatchObject({
      configurations: 3,
      missing: 2,
      present: 1,
      extra: 1,
      duplicate: 1,
      configurationNotFound: 1,
      unreadable: 1,
    });
    const [a, m, u] = drift.configurations;
    expect(a).toMatchObject({
      configurationId: configA,
      state: 'read',
      existingAssignments: 3,
      missing: [g[1], g[2]],
      present: [{ groupId: g[0] }],
    });
    expect(a!.extra).toEqual([
      { assignmentId: extraG3, groupId: g[3], targetType: '#microsoft.graph.officeConfigurationGroupAssignmentTarget' },
    ]);
    expect(a!.duplicate.map((d) => d.assignmentId)).toEqual([duplicateOfG0]);
    expect(m).toMatchObject({ configurationId: missing, state: 'not-found', reason: { httpStatus: 404 } });
    expect(u).toMatchObject({
      configurationId: unreadable,
      state: 'unreadable',
      existingAssignments: null,
      missing: [],
      reason: { httpStatus: 500 },
    });
    expect(u!.reason!.message).toContain('gave up after 3 attempts');
    expect(drift.entries.map((e) => [e.kind, e.configurationId, e.groupId])).toEqual([
      ['missing', configA, g[1]],
      ['missing', configA, g[2]],
      ['present', configA, g[0]],
      ['extra', configA, g[3]],
      ['duplicate', configA, g[0]],
      ['configuration-not-found', missing, null],
      ['unreadable', unreadable, null],
    ]);

    const text = await stack.cli(['sync', file, '--dry-run']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('nothing was written');
    expect(text.stdout).toContain(`missing    ${stack.tenantId}/${configA} group ${g[1]}`);
    expect(text.stdout).toContain(`extra      ${stack.tenantId}/${configA} group ${g[3]} (assignment ${extraG3})`);
    expect(text.stdout).toContain(
      `duplicate  ${stack.tenantId}/${configA} group ${g[0]} (assignment ${duplicateOfG0})`,
    );
    expect(text.stdout).toMatch(new RegExp(`not found\\s+${stack.tenantId}/${missing}`));
    expect(text.stdout).toMatch(new RegExp(`unreadable\\s+${stack.tenantId}/${unreadable}`));

    expect(await stack.control.truth()).toEqual(truthBefore);
    expect(Object.values((await stack.control.stats()).tenants).reduce((n, t) => n + t.writesAccepted, 0)).toBe(0);
    expect(await stack.redis.keys(`${stack.prefix}:rollout*`)).toEqual([]);
  });

  it('refuses a prune past the threshold and writes nothing', async () => {
    const truthBefore = await stack.control.truth();
    // 2 of configA's 3 assignments would go (67%), past the default 10%.
    const result = await stack.cli(['sync', file, '--prune']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error E_PRUNE_REFUSED');
    expect(result.stderr).toContain(`configuration ${configA}: would delete 2 of 3 assignments (66.7%)`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await stack.control.truth()).toEqual(truthBefore);
    expect(await stack.redis.keys(`${stack.prefix}:rollout*`)).toEqual([]);
  });

  it('applies the drift as a rollout, leaves extras alone without --prune, and finds no drift after', async () => {
    const worker = await stack.worker();
    const result = await stack.cli(['sync', file, '--json', '--wait']);
    // 1: two configurations were not read; the rollout itself has no failed row.
    expect(result.code).toBe(1);
    const applied = JSON.parse(result.stdout) as SyncJson;
    expect(applied.decision).toBe('apply');
    const rolloutId = applied.rollout!.rolloutId;
    expect(applied.rollout).toMatchObject({ total: 2, source: `sync ${file}` });
    const truth = await stack.control.truth();
    expect(truth.tenants[stack.tenantId]![configA]).toEqual({ [g[0]!]: 2, [g[1]!]: 1, [g[2]!]: 1, [g[3]!]: 1 });
    // The unreadable configuration was left out: nothing created, nothing removed.
    expect(truth.tenants[stack.tenantId]![unreadable]).toEqual({ [g[5]!]: 1, [g[6]!]: 1 });

    const report = JSON.parse((await stack.cli(['report', rolloutId, '--format', 'json'])).stdout) as Outcome[];
    expect(report.map((r) => [r.groupId, r.outcome])).toEqual([
      [g[1], 'created'],
      [g[2], 'created'],
    ]);
    const list = JSON.parse((await stack.cli(['list', '--json'])).stdout) as { rolloutId: string; state: string }[];
    expect(list.find((r) => r.rolloutId === rolloutId)?.state).toBe('finished');

    const again = JSON.parse((await stack.cli(['sync', file, '--dry-run', '--json'])).stdout) as SyncJson;
    expect(again.summary).toMatchObject({ missing: 0, present: 3, extra: 1, duplicate: 1 });
    await worker.stop();
  });

  it('--prune --force deletes extras and duplicates through the pipeline; an unreadable configuration prunes nothing', async () => {
    const worker = await stack.worker();
    const result = await stack.cli(['sync', file, '--prune', '--force', '--json', '--wait']);
    expect(result.code).toBe(1);
    const applied = JSON.parse(result.stdout) as SyncJson;
    expect(applied.prune).toMatchObject({ enabled: true, force: true, wouldDelete: 2 });
    const report = JSON.parse(
      (await stack.cli(['report', applied.rollout!.rolloutId, '--format', 'json'])).stdout,
    ) as Outcome[];
    expect(report.map((r) => [r.assignmentId, r.outcome])).toEqual([
      [extraG3, 'deleted'],
      [duplicateOfG0, 'deleted'],
    ]);
    const truth = await stack.control.truth();
    expect(truth.tenants[stack.tenantId]![configA]).toEqual({ [g[0]!]: 1, [g[1]!]: 1, [g[2]!]: 1 });
    // Desired: no groups at all. It could not be read, so "no assignments" was never assumed.
    expect(truth.tenants[stack.tenantId]![unreadable]).toEqual({ [g[5]!]: 1, [g[6]!]: 1 });

    // In sync now: a run writes nothing and makes no rollout.
    const rolloutsBefore = await stack.redis.zcard(`${stack.prefix}:rollouts`);
    const quiet = await stack.cli(['sync', file, '--prune']);
    expect(quiet.stdout).toContain('no drift: nothing to write');
    expect(await stack.redis.zcard(`${stack.prefix}:rollouts`)).toBe(rolloutsBefore);
    await worker.stop();
  });

  it('--prune-threshold lets a prune within it through', async () => {
    const config = (await stack.control.createConfiguration(stack.tenantId, { id: randomUUID() })).id;
    const keep = Array.from({ length: 4 }, () => randomUUID());
    for (const groupId of keep) await stack.control.createAssignment(stack.tenantId, config, groupId);
    const extra = (await stack.control.createAssignment(stack.tenantId, config, randomUUID())).id;
    const one = writeDesired(stack, { [stack.tenantId]: { [config]: keep } });
    // 1 of 5 = 20%.
    expect((await stack.cli(['sync', one, '--prune', '--prune-threshold', '19'])).code).toBe(2);
    const worker = await stack.worker();
    const result = await stack.cli(['sync', one, '--prune', '--prune-threshold', '20', '--json', '--wait']);
    expect(result.code).toBe(0);
    const report = JSON.parse(
      (await stack.cli(['report', (JSON.parse(result.stdout) as SyncJson).rollout!.rolloutId, '--format', 'json']))
        .stdout,
    ) as Outcome[];
    expect(report.map((r) => [r.assignmentId, r.outcome])).toEqual([[extra, 'deleted']]);
    await worker.stop();
  });

  it('rejects a bad desired-state file with its line and path, touching nothing', async () => {
    const bad = join(stack.dir, 'bad.yaml');
    writeFileSync(
      bad,
      `tenants:\n  - tenantId: ${stack.tenantId}\n    configurations:\n      - configurationId: ${configA}\n        groups: [not-a-guid]\n`,
    );
    const keysBefore = new Set(await stack.redis.keys(`${stack.prefix}:*`));
    const result = await stack.cli(['sync', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('E_INPUT_INVALID');
    expect(result.stderr).toContain(`${bad}:5`);
    expect(result.stderr).toContain('tenants[0].configurations[0].groups[0]');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // No key appeared (lane keys may expire meanwhile).
    expect((await stack.redis.keys(`${stack.prefix}:*`)).filter((k) => !keysBefore.has(k))).toEqual([]);
  });
});

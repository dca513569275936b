import { describe, expect, it } from 'vitest';
import { configurationDrift, desiredStateDrift, driftRows, pruneChecks } from '../../producer/drift.js';
import { officeClientConfigurationKind } from '../../lib/graph/kinds/office-client-configuration.js';
import { planSync } from '../../producer/desired-state-sync.js';

const T = '00000000-0000-0000-0000-0000000000a1';
const C1 = '00000000-0000-0000-0000-0000000000c1';
const C2 = '00000000-0000-0000-0000-0000000000c2';
const g = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const a = (n: number) => `aaaaaaaa-0000-0000-0000-${String(n).padStart(12, '0')}`;
const GROUP = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';
const reason = {
  code: 'E_GRAPH_SERVER',
  errorCode: 'InternalServerError',
  message: 'boom',
  httpStatus: 500,
  requestId: null,
};

describe('configuration drift', () => {
  it('sorts every assignment into present, extra, duplicate or other target, and lists missing groups', () => {
    const drift = configurationDrift(
      T,
      C1,
      [g(1), g(2), g(3)],
      {
        state: 'read',
        assignments: [
          { id: a(1), groupId: g(1), targetType: GROUP },
          { id: a(2), groupId: g(9), targetType: GROUP },
          { id: a(3), groupId: g(1), targetType: GROUP },
          { id: a(4), groupId: g(9), targetType: GROUP },
          { id: a(5), targetType: '#microsoft.graph.allDevicesAssignmentTarget' },
          { id: a(6), groupId: g(2), targetType: GROUP },
        ],
      },
      officeClientConfigurationKind,
    );
    expect(drift.existingAssignments).toBe(6);
    expect(drift.present).toEqual([
      { groupId: g(1), assignmentId: a(1) },
      { groupId: g(2), assignmentId: a(6) },
    ]);
    expect(drift.missing).toEqual([g(3)]);
    // The first assignment of a group is the one kept; later ones are duplicates, wanted or not.
    expect(drift.extra.map((e) => e.assignmentId)).toEqual([a(2)]);
    expect(drift.duplicate.map((e) => e.assignmentId)).toEqual([a(3), a(4)]);
    expect(drift.otherTargets).toEqual([
      { assignmentId: a(5), groupId: null, targetType: '#microsoft.graph.allDevicesAssignmentTarget' },
    ]);
  });

  it('never takes an unreadable configuration for one without assignments', () => {
    const drift = configurationDrift(T, C1, [g(1)], { state: 'unreadable', reason }, officeClientConfigurationKind);
    expect(drift.missing).toEqual([]);
    expect(drift.existingAssignments).toBeNull();
    expect(
      driftRows(
        desiredStateDrift(
          { tenants: [{ tenantId: T, configurations: [{ configurationId: C1, groups: [g(1)] }] }] },
          () => ({ state: 'unreadable', reason }),
          officeClientConfigurationKind,
        ),
        true,
      ),
    ).toEqual([]);
  });
});

describe('sync plan', () => {
  const desired = {
    tenants: [
      {
        tenantId: T,
        configurations: [
          { configurationId: C1, groups: [g(1), g(2)] },
          { configurationId: C2, groups: [] },
        ],
      },
    ],
  };
  const assigned = (n: number) => ({ id: a(n), groupId: g(n), targetType: GROUP });

  it('creates missing groups and, only with prune, deletes extras and duplicates', () => {
    const drift = desiredStateDrift(
      desired,
      (_t, c) =>
        c === C1
          ? {
              state: 'read',
              assignments: [
                assigned(1),
                ...Array.from({ length: 19 }, (_, i) => assigned(100 + i)),
                { id: a(50), groupId: g(1) },
              ],
            }
          : { state: 'not-found', reason },
      officeClientConfigurationKind,
    );
    expect(drift.summary).toMatchObject({ missing: 1, present: 1, extra: 19, duplicate: 1, configurationNotFound: 1 });
    expect(driftRows(drift, false)).toEqual([{ tenantId: T, configurationId: C1, groupId: g(2) }]);
    const rows = driftRows(drift, true);
    expect(rows).toHaveLength(21);
    expect(rows[1]).toEqual({ tenantId: T, configurationId: C1, groupId: g(100), assignmentId: a(100) });
    expect(rows[20]).toEqual({ tenantId: T, configurationId: C1, groupId: g(1), assignmentId: a(50) });
  });

  it('refuses a prune past the threshold of a configuration unless forced', () => {
    // Desired g1, g2 (both present) plus 18 assignments of other groups: 18 of 20 would go (90%).
    const extras = Array.from({ length: 18 }, (_, i) => assigned(400 + i));
    const drift = desiredStateDrift(
      desired,
      (_t, c) => ({
        state: 'read',
        assignments: c === C1 ? [assigned(1), assigned(2), ...extras] : [],
      }),
      officeClientConfigurationKind,
    );
    expect(pruneChecks(drift, 10)[0]).toMatchObject({
      wouldDelete: 18,
      existingAssignments: 20,
      percent: 90,
      allowed: false,
    });
    expect(planSync(drift, { prune: true, force: false, pruneThresholdPercent: 10 }).decision.kind).toBe('refused');
    expect(planSync(drift, { prune: true, force: true, pruneThresholdPercent: 10 }).decision).toEqual({
      kind: 'apply',
      creates: 0,
      deletes: 18,
    });
    expect(planSync(drift, { prune: true, force: false, pruneThresholdPercent: 90 }).decision).toEqual({
      kind: 'apply',
      creates: 0,
      deletes: 18,
    });
    // Without --prune nothing is deleted, so nothing is refused: the extras are only reported.
    expect(planSync(drift, { prune: false, force: false, pruneThresholdPercent: 10 }).decision).toEqual({
      kind: 'no-drift',
    });
  });

  it('allows a prune that stays within the threshold', () => {
    // One duplicate of g2 among 10 assignments (10%): exactly at the default threshold.
    const others = Array.from({ length: 7 }, (_, i) => assigned(600 + i));
    const drift = desiredStateDrift(
      {
        tenants: [
          {
            tenantId: T,
            configurations: [{ configurationId: C1, groups: [g(1), g(2), ...others.map((o) => o.groupId)] }],
          },
        ],
      },
      () => ({ state: 'read', assignments: [assigned(1), assigned(2), { id: a(99), groupId: g(2) }, ...others] }),
      officeClientConfigurationKind,
    );
    expect(pruneChecks(drift, 10)[0]).toMatchObject({ wouldDelete: 1, existingAssignments: 10, allowed: true });
    expect(pruneChecks(drift, 9)[0]).toMatchObject({ allowed: false });
    expect(planSync(drift, { prune: true, force: false, pruneThresholdPercent: 10 }).decision).toEqual({
      kind: 'apply',
      creates: 0,
      deletes: 1,
    });
  });

  it('finds no drift when Intune matches the file', () => {
    const drift = desiredStateDrift(
      desired,
      (_t, c) =>
        c === C1 ? { state: 'read', assignments: [assigned(1), assigned(2)] } : { state: 'read', assignments: [] },
      officeClientConfigurationKind,
    );
    expect(planSync(drift, { prune: true, force: false, pruneThresholdPercent: 10 }).decision).toEqual({
      kind: 'no-drift',
    });
  });
});

import { describe, expect, it } from 'vitest';
import type { Assignment } from '../../lib/graph/assignment.js';
import type { AssignmentKind } from '../../lib/graph/assignment-kind.js';
import { officeClientConfigurationKind } from '../../lib/graph/kinds/office-client-configuration.js';
import { configurationDrift } from '../../producer/drift.js';
import { planRollout } from '../../producer/dry-run-plan.js';

const T = '00000000-0000-0000-0000-0000000000a1';
const C = '00000000-0000-0000-0000-0000000000c1';
const G = '00000000-0000-0000-0000-000000000001';
const POLICY_GROUP_TARGET = '#microsoft.graph.groupAssignmentTarget';

/** A kind for which only its own group target type assigns; the rest is the seed kind's. */
const policyKind: AssignmentKind = {
  ...officeClientConfigurationKind,
  assignedGroup: (a) => (a.targetType === POLICY_GROUP_TARGET ? a.groupId : undefined),
};

const listing: Assignment[] = [
  { id: 'exclusion', groupId: G, targetType: '#microsoft.graph.exclusionGroupAssignmentTarget' },
  { id: 'include', groupId: G, targetType: POLICY_GROUP_TARGET },
];

describe('what the pipeline takes for assigned', () => {
  it("is the kind's answer in a drift: a target of another type for the same group is reported, not kept or pruned", () => {
    const drift = configurationDrift(T, C, [G], { state: 'read', assignments: listing }, policyKind);
    expect(drift.present).toEqual([{ groupId: G, assignmentId: 'include' }]);
    expect(drift.duplicate).toEqual([]);
    expect(drift.otherTargets.map((o) => o.assignmentId)).toEqual(['exclusion']);
  });

  it("is the kind's answer in a dry run: a group with only another target type would be created", async () => {
    const lister = { listAll: async () => [listing[0]!] };
    const input = {
      rows: [{ tenantId: T, configurationId: C, groupId: G }],
      lines: [2],
      inputRows: 1,
      duplicateRows: 0,
      format: 'csv' as const,
    };
    const plan = await planRollout(input, lister, { kind: policyKind });
    expect(plan.rows.map((r) => r.plan)).toEqual(['would-create']);
  });
});

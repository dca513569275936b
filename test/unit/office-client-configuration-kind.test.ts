import { describe, expect, it } from 'vitest';
import { officeClientConfigurationKind as kind } from '../../lib/graph/kinds/office-client-configuration.js';
import { isAssignmentOf } from '../../lib/graph/assignment-kind.js';

const CONFIGURATION = 'c0ffee00-0000-4000-8000-000000000001';
const GROUP = '6f1b2c3d-0000-4000-8000-0000000000aa';
const GROUP_TARGET = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';

describe('officeClientConfigurationAssignment kind', () => {
  it('assigns a configuration to a group with an officeClientConfigurationAssignment whose target is the group target', () => {
    expect(kind.createBody(GROUP)).toEqual({
      '@odata.type': '#microsoft.graph.officeClientConfigurationAssignment',
      target: { '@odata.type': GROUP_TARGET, groupId: GROUP },
    });
  });

  it("keeps a configuration's assignments under officeConfiguration/clientConfigurations, ids escaped", () => {
    expect(kind.collectionPath(CONFIGURATION)).toBe(
      `/officeConfiguration/clientConfigurations/${CONFIGURATION}/assignments`,
    );
    expect(kind.assignmentPath(CONFIGURATION, 'a/b c')).toBe(
      `/officeConfiguration/clientConfigurations/${CONFIGURATION}/assignments/a%2Fb%20c`,
    );
    expect(kind.collectionPath('x/../y')).toBe('/officeConfiguration/clientConfigurations/x%2F..%2Fy/assignments');
  });

  it('reads a listing: group ids lower-cased, a target that is not a group without one, unknown fields left out', () => {
    const listing = [
      {
        '@odata.type': '#microsoft.graph.officeClientConfigurationAssignment',
        id: 'a-1',
        target: {
          '@odata.type': GROUP_TARGET,
          groupId: GROUP.toUpperCase(),
          deviceAndAppManagementAssignmentFilterId: null,
        },
      },
      {
        id: 'a-2',
        target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' },
        intent: 'required',
        source: 'direct',
      },
      { id: 'a-3' },
      { id: 7, target: { groupId: 42 } },
      null,
    ];
    expect(listing.map((value) => kind.readAssignment(value))).toEqual([
      { id: 'a-1', groupId: GROUP, targetType: GROUP_TARGET },
      { id: 'a-2', targetType: '#microsoft.graph.allDevicesAssignmentTarget' },
      { id: 'a-3' },
      { id: '' },
      { id: '' },
    ]);
  });

  it('counts a group target as the configuration assigned to that group, and to no other', () => {
    const assignment = kind.readAssignment({ id: 'a-1', target: { '@odata.type': GROUP_TARGET, groupId: GROUP } });
    expect(kind.assignedGroup(assignment)).toBe(GROUP);
    expect(isAssignmentOf(kind, assignment, GROUP)).toBe(true);
    expect(isAssignmentOf(kind, assignment, '6f1b2c3d-0000-4000-8000-0000000000bb')).toBe(false);
  });

  it('does not count another target type naming the same group id as assigned', () => {
    const exclusion = kind.readAssignment({
      id: 'a-1',
      target: { '@odata.type': '#microsoft.graph.exclusionGroupAssignmentTarget', groupId: GROUP },
    });
    expect(exclusion.groupId).toBe(GROUP);
    expect(kind.assignedGroup(exclusion)).toBeUndefined();
    expect(isAssignmentOf(kind, exclusion, GROUP)).toBe(false);
  });

  it('counts nothing as assigned for targets that name no group', () => {
    for (const value of [
      { id: 'a', target: { '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } },
      { id: 'b' },
      { id: 'c', target: { groupId: '' } },
    ]) {
      expect(kind.assignedGroup(kind.readAssignment(value))).toBeUndefined();
    }
  });

  it('takes a target that names a group but no type, or the type without its #, for the group target (the kind has no other)', () => {
    expect(kind.assignedGroup({ id: 'a', groupId: GROUP })).toBe(GROUP);
    expect(
      kind.assignedGroup({
        id: 'b',
        groupId: GROUP,
        targetType: 'microsoft.graph.officeConfigurationGroupAssignmentTarget',
      }),
    ).toBe(GROUP);
  });
});

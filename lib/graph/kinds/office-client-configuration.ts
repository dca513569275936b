import type { AssignmentKind } from '../assignment-kind.js';

const ASSIGNMENT_TYPE = '#microsoft.graph.officeClientConfigurationAssignment';
const GROUP_TARGET_TYPE = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';

/**
 * officeClientConfigurationAssignment (Graph beta, Office cloud policies): the seed kind. Its last
 * published metadata has one concrete target type, the group target, and no exclusion target.
 */
export const officeClientConfigurationKind: AssignmentKind = {
  collectionPath,

  assignmentPath(configurationId, assignmentId) {
    return `${collectionPath(configurationId)}/${encodeURIComponent(assignmentId)}`;
  },

  createBody(groupId) {
    return { '@odata.type': ASSIGNMENT_TYPE, target: { '@odata.type': GROUP_TARGET_TYPE, groupId } };
  },

  readAssignment(value) {
    const v = (value ?? {}) as { id?: unknown; target?: { groupId?: unknown; '@odata.type'?: unknown } };
    const targetType = v.target?.['@odata.type'];
    return {
      id: typeof v.id === 'string' ? v.id : '',
      // Rows carry lower-cased ids; Graph's casing of a GUID is not to be relied on.
      groupId: typeof v.target?.groupId === 'string' ? v.target.groupId.toLowerCase() : undefined,
      ...(typeof targetType === 'string' ? { targetType } : {}),
    };
  },

  assignedGroup(assignment) {
    if (!assignment.groupId) return undefined;
    // A target that names a group but no type can only be the group target: the kind has no other.
    if (assignment.targetType !== undefined && !isGroupTargetType(assignment.targetType)) return undefined;
    return assignment.groupId;
  },
};

function collectionPath(configurationId: string): string {
  return `/officeConfiguration/clientConfigurations/${encodeURIComponent(configurationId)}/assignments`;
}

/** Graph's documentation examples spell the type without the leading `#`; either names the group target. */
function isGroupTargetType(type: string): boolean {
  return type.replace(/^#/, '').toLowerCase() === GROUP_TARGET_TYPE.slice(1).toLowerCase();
}

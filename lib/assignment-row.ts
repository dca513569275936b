/**
 * A row: one (tenant, configuration, group) triple of a rollout, i.e. one assignment to make.
 * All three ids are normalized object ids (lower-case GUIDs).
 */
export interface AssignmentRow {
  tenantId: string;
  configurationId: string;
  groupId: string;
}

/** The row's identity; the same triple twice in one rollout is one row. */
export function rowKey(row: AssignmentRow): string {
  return `${row.tenantId}/${row.configurationId}/${row.groupId}`;
}

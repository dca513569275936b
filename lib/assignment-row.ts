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

/** The row a row key names (the inverse of rowKey). */
export function parseRowKey(key: string): AssignmentRow {
  const [tenantId = '', configurationId = '', groupId = ''] = key.split('/');
  return { tenantId, configurationId, groupId };
}

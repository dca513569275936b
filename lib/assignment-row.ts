/**
 * A row: one (tenant, configuration, group) triple of a rollout. All ids are normalized object ids
 * (lower-case GUIDs).
 *
 * A row without `assignmentId` is a create: one assignment to make (POST). A row with one is a
 * delete ("prune" row): a DELETE of that assignment of the configuration; its `groupId` is the
 * group that assignment targets, kept for the report.
 */
export interface AssignmentRow {
  tenantId: string;
  configurationId: string;
  groupId: string;
  /** Set on a delete row: the assignment to remove. */
  assignmentId?: string;
}

/** True for a delete row (it names the assignment to remove). */
export function isDeleteRow(row: Pick<AssignmentRow, 'assignmentId'>): row is { assignmentId: string } {
  return row.assignmentId !== undefined && row.assignmentId !== '';
}

/**
 * The row's identity: `<tenant>/<configuration>/<group>` for a create (the same triple twice in one
 * rollout is one row), `<tenant>/<configuration>/<group>/<assignmentId>` for a delete.
 */
export function rowKey(row: AssignmentRow): string {
  const triple = `${row.tenantId}/${row.configurationId}/${row.groupId}`;
  return isDeleteRow(row) ? `${triple}/${row.assignmentId}` : triple;
}

/** The row a row key names (the inverse of rowKey): `assignmentId` is present only for a delete row. */
export function parseRowKey(key: string): AssignmentRow {
  const [tenantId = '', configurationId = '', groupId = '', assignmentId] = key.split('/');
  return assignmentId ? { tenantId, configurationId, groupId, assignmentId } : { tenantId, configurationId, groupId };
}

/** True when the row key names a delete row (it has a fourth part), without parsing the whole key. */
export function isDeleteRowKey(key: string): boolean {
  let slashes = 0;
  for (let i = key.indexOf('/'); i !== -1; i = key.indexOf('/', i + 1)) slashes++;
  return slashes >= 3;
}

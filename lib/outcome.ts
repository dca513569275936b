import { isDeleteRow, type AssignmentRow } from './assignment-row.js';

/**
 * The end of a row. `created` and `already-assigned` end create rows, `deleted` (our DELETE removed
 * the assignment) and `already-deleted` (it was gone before any DELETE of ours) end delete rows; all
 * four count as succeeded. `cancelled` rows were stopped by `assignments cancel` before any request
 * of theirs. A rollout is finished when succeeded + failed + cancelled == total.
 */
export type OutcomeKind = 'created' | 'already-assigned' | 'deleted' | 'already-deleted' | 'failed' | 'cancelled';

export const OUTCOME_KINDS: readonly OutcomeKind[] = [
  'created',
  'already-assigned',
  'deleted',
  'already-deleted',
  'failed',
  'cancelled',
];

/** What a row asks of Graph: a POST of a new assignment, or a DELETE of an existing one. */
export type RowAction = 'create' | 'delete';

export interface Outcome {
  rolloutId: string;
  /** 1-based position of the row in the rollout. */
  row: number;
  tenantId: string;
  configurationId: string;
  groupId: string;
  /**
   * `delete` for a delete row. Stored only for delete rows (Redis stays small) and read back as
   * `create` when absent.
   */
  action: RowAction;
  outcome: OutcomeKind;
  /** The assignment created or found (create rows), or the assignment to remove (delete rows). */
  assignmentId: string | null;
  /** The HTTP status of the request that decided the outcome (null if none was answered). */
  httpStatus: number | null;
  /**
   * Writes (POSTs, or DELETEs for a delete row) sent to Graph for this row (throttled and failed ones included; reads
   * not counted).
   */
  attempts: number;
  /** Graph's `request-id` of the deciding response, for Microsoft support. */
  requestId: string | null;
  clientRequestId: string | null;
  /** Our stable code (E_GRAPH_NOT_FOUND, …) for a failed row. */
  code: string | null;
  /** Graph's error code (ResourceNotFound, …) or the transport's (ETIMEDOUT). */
  errorCode: string | null;
  errorMessage: string | null;
  finishedAt: string;
  /** How many times `assignments retry` re-ran this row (its earlier outcomes are kept as history). */
  retries?: number;
}

/** The fields of an outcome that stay null until a request answers or fails. */
export const NO_RESULT = {
  assignmentId: null,
  httpStatus: null,
  requestId: null,
  clientRequestId: null,
  code: null,
  errorCode: null,
  errorMessage: null,
} as const satisfies Partial<Outcome>;

/** The fields of an outcome that come from its row: create rows have no assignment yet, delete rows name theirs. */
export function rowFieldsOf(
  row: AssignmentRow,
): Pick<Outcome, 'tenantId' | 'configurationId' | 'groupId' | 'action' | 'assignmentId'> {
  const { tenantId, configurationId, groupId } = row;
  return isDeleteRow(row)
    ? { tenantId, configurationId, groupId, action: 'delete', assignmentId: row.assignmentId }
    : { tenantId, configurationId, groupId, action: 'create', assignmentId: null };
}

export const OUTCOME_FIELDS: readonly (keyof Outcome)[] = [
  'rolloutId',
  'row',
  'tenantId',
  'configurationId',
  'groupId',
  'action',
  'outcome',
  'assignmentId',
  'httpStatus',
  'attempts',
  'requestId',
  'clientRequestId',
  'code',
  'errorCode',
  'errorMessage',
  'finishedAt',
  'retries',
];

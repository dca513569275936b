/**
 * The end of a row. `created` and `already-assigned` count as succeeded; `cancelled` rows were
 * stopped by `assignments cancel` before any request of theirs. A rollout is finished when
 * succeeded + failed + cancelled == total.
 */
export type OutcomeKind = 'created' | 'already-assigned' | 'failed' | 'cancelled';

export const OUTCOME_KINDS: readonly OutcomeKind[] = ['created', 'already-assigned', 'failed', 'cancelled'];

export interface Outcome {
  rolloutId: string;
  /** 1-based position of the row in the rollout. */
  row: number;
  tenantId: string;
  configurationId: string;
  groupId: string;
  outcome: OutcomeKind;
  assignmentId: string | null;
  /** The HTTP status of the request that decided the outcome (null if none was answered). */
  httpStatus: number | null;
  /** POSTs sent to Graph for this row (throttled and failed ones included; reads not counted). */
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

export const OUTCOME_FIELDS: readonly (keyof Outcome)[] = [
  'rolloutId',
  'row',
  'tenantId',
  'configurationId',
  'groupId',
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

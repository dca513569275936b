/**
 * How a Graph or Entra ID call failed, decided once (see failure-classification.ts) and carried to
 * the retry policy and the row's outcome.
 * - throttled: 429; the lane pauses, the row waits without spending an attempt.
 * - transient: worth another attempt with backoff (5xx, timeouts, resets, token endpoint outages).
 * - permanent: another attempt cannot help (400, 403, 404, rejected credentials).
 * - unauthorized: 401; one token refresh, then permanent.
 * `ambiguous` means the request may have reached Graph and been committed even though we saw no
 * success, so the next attempt must look before it posts again.
 */
export type FailureKind = 'throttled' | 'transient' | 'permanent' | 'unauthorized';

export const GraphFailureCodes = {
  THROTTLED: 'E_GRAPH_THROTTLED',
  UNAVAILABLE: 'E_GRAPH_UNAVAILABLE',
  SERVER_ERROR: 'E_GRAPH_SERVER_ERROR',
  TIMEOUT: 'E_GRAPH_TIMEOUT',
  NETWORK: 'E_GRAPH_NETWORK',
  TLS: 'E_GRAPH_TLS',
  BAD_REQUEST: 'E_GRAPH_BAD_REQUEST',
  UNAUTHORIZED: 'E_GRAPH_UNAUTHORIZED',
  FORBIDDEN: 'E_GRAPH_FORBIDDEN',
  NOT_FOUND: 'E_GRAPH_NOT_FOUND',
  CONFLICT: 'E_GRAPH_CONFLICT',
  UNEXPECTED: 'E_GRAPH_UNEXPECTED',
  TOKEN_UNAVAILABLE: 'E_AUTH_TOKEN_UNAVAILABLE',
  TOKEN_REJECTED: 'E_AUTH_REJECTED',
} as const;

export type GraphFailureCode = (typeof GraphFailureCodes)[keyof typeof GraphFailureCodes];

export interface GraphFailureDetails {
  kind: FailureKind;
  code: GraphFailureCode;
  ambiguous: boolean;
  message: string;
  httpStatus?: number;
  /** Graph's own error code (`ResourceNotFound`) or the transport's (`ETIMEDOUT`). */
  graphCode?: string;
  requestId?: string;
  retryAfterMs?: number;
}

export class GraphFailure extends Error {
  readonly kind: FailureKind;
  readonly code: GraphFailureCode;
  readonly ambiguous: boolean;
  readonly httpStatus?: number;
  readonly graphCode?: string;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
  /** When the request had been handed to the network, if it got that far (set by the caller). */
  uploadedAt?: number;

  constructor(details: GraphFailureDetails) {
    super(details.message);
    this.name = 'GraphFailure';
    this.kind = details.kind;
    this.code = details.code;
    this.ambiguous = details.ambiguous;
    this.httpStatus = details.httpStatus;
    this.graphCode = details.graphCode;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * Graph refused the request at its door: a 429 (with or without Retry-After), or a 503 with
 * Retry-After (the shape some Graph services throttle or shed load with). Had such a write been
 * committed, it was before the answer, so a look once the wait is over shows it; a slow commit, the
 * reason for GRAPH_SETTLE_MS, follows a timeout, a dropped connection or another 5xx, not a refusal.
 */
export function refusedAtDoor(failure: Pick<GraphFailure, 'kind' | 'httpStatus' | 'retryAfterMs'>): boolean {
  return failure.kind === 'throttled' || (failure.httpStatus === 503 && failure.retryAfterMs !== undefined);
}

/** The last failure, its message saying that retries ran out (as a failed row's errorMessage does). */
export function gaveUp(err: GraphFailure, attempts: number): GraphFailure {
  const failure = new GraphFailure({
    kind: err.kind,
    code: err.code,
    ambiguous: err.ambiguous,
    message: `${err.message} (gave up after ${attempts} attempts)`,
    httpStatus: err.httpStatus,
    graphCode: err.graphCode,
    requestId: err.requestId,
    retryAfterMs: err.retryAfterMs,
  });
  failure.uploadedAt = err.uploadedAt;
  return failure;
}

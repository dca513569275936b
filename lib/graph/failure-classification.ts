import { GraphFailure, GraphFailureCodes as C } from './graph-failure.js';
import { parseRetryAfter } from './retry-after.js';
import { TokenEndpointUnavailable } from './msal-network-client.js';

/** Graph's error body: `{"error": {"code", "message", "innerError": {...}}}`. */
export function graphErrorOf(body: unknown): { code?: string; message?: string } {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (error && typeof error === 'object') {
      const e = error as { code?: unknown; message?: unknown };
      return {
        code: typeof e.code === 'string' ? e.code : undefined,
        message: typeof e.message === 'string' ? e.message.slice(0, 500) : undefined,
      };
    }
  }
  return {};
}

/**
 * A Graph HTTP answer that is not a success. `isWrite` matters: a write that ends in anything but a
 * definite refusal may still have been committed.
 */
export function classifyResponse(
  status: number,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  isWrite: boolean,
  nowMs: number,
): GraphFailure {
  const { code: graphCode, message } = graphErrorOf(body);
  const requestId = first(headers['request-id']);
  const retryAfterMs = parseRetryAfter(headers['retry-after'], nowMs);
  const base = { httpStatus: status, graphCode, requestId, retryAfterMs };
  const text = (fallback: string) => message ?? fallback;
  if (status === 429) {
    // Graph documents that a throttled write may still have been committed.
    return new GraphFailure({
      ...base,
      kind: 'throttled',
      code: C.THROTTLED,
      ambiguous: isWrite,
      message: text('Too many requests'),
    });
  }
  if (status === 401) {
    return new GraphFailure({
      ...base,
      kind: 'unauthorized',
      code: C.UNAUTHORIZED,
      ambiguous: false,
      message: text('Unauthorized'),
    });
  }
  if (status === 403)
    return new GraphFailure({
      ...base,
      kind: 'permanent',
      code: C.FORBIDDEN,
      ambiguous: false,
      message: text('Forbidden'),
    });
  if (status === 404)
    return new GraphFailure({
      ...base,
      kind: 'permanent',
      code: C.NOT_FOUND,
      ambiguous: false,
      message: text('Not found'),
    });
  if (status === 409)
    return new GraphFailure({
      ...base,
      kind: 'permanent',
      code: C.CONFLICT,
      ambiguous: false,
      message: text('Conflict'),
    });
  if (status === 408) {
    return new GraphFailure({
      ...base,
      kind: 'transient',
      code: C.TIMEOUT,
      ambiguous: isWrite,
      message: text('Request timeout'),
    });
  }
  if (status === 503 || status === 504 || status === 502) {
    return new GraphFailure({
      ...base,
      kind: 'transient',
      code: C.UNAVAILABLE,
      ambiguous: isWrite,
      message: text(`Service unavailable (HTTP ${status})`),
    });
  }
  if (status >= 500) {
    return new GraphFailure({
      ...base,
      kind: 'transient',
      code: C.SERVER_ERROR,
      ambiguous: isWrite,
      message: text(`Server error (HTTP ${status})`),
    });
  }
  if (status >= 400)
    return new GraphFailure({
      ...base,
      kind: 'permanent',
      code: C.BAD_REQUEST,
      ambiguous: false,
      message: text(`Bad request (HTTP ${status})`),
    });
  return new GraphFailure({
    ...base,
    kind: 'permanent',
    code: C.UNEXPECTED,
    ambiguous: isWrite,
    message: `Unexpected HTTP ${status}`,
  });
}

/** Errors raised before the connection carried the request: nothing can have reached Graph. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL']);
const TLS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A transport error (no HTTP answer): timeouts, resets, refused connections, TLS. A write is
 * ambiguous only if it can have reached Graph whole: not when the connection was refused, nor when
 * the client's timings show the request never finished uploading (a reused keep-alive connection
 * the server had just closed, a timeout while connecting), since Graph cannot act on half a POST.
 * Without timings the write counts as sent.
 */
export function classifyTransportError(err: unknown, isWrite: boolean): GraphFailure {
  const e = err as { code?: unknown; message?: unknown; name?: unknown; timings?: { upload?: number } };
  const code = typeof e.code === 'string' ? e.code : 'ERR_NETWORK';
  const uploaded = e.timings === undefined || e.timings.upload !== undefined;
  if (TLS.has(code)) {
    return new GraphFailure({
      kind: 'permanent',
      code: C.TLS,
      ambiguous: false,
      graphCode: code,
      message: `TLS: ${code} (is NODE_EXTRA_CA_CERTS set for this endpoint?)`,
    });
  }
  if (code === 'ETIMEDOUT' || e.name === 'TimeoutError') {
    return new GraphFailure({
      kind: 'transient',
      code: C.TIMEOUT,
      ambiguous: isWrite && uploaded,
      graphCode: 'ETIMEDOUT',
      message: 'No answer before GRAPH_TIMEOUT_MS',
    });
  }
  const sent = !NOT_SENT.has(code) && uploaded;
  return new GraphFailure({
    kind: 'transient',
    code: C.NETWORK,
    ambiguous: isWrite && sent,
    graphCode: code,
    message: `Network error ${code}`,
  });
}

/** Entra ID errors (MSAL's ServerError/AuthError, or our network client's failure). */
const REJECTED = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_request',
  'invalid_scope',
  'invalid_grant',
  'invalid_resource',
  'consent_required',
]);

export function classifyTokenError(err: unknown): GraphFailure {
  const e = err as { errorCode?: unknown; errorMessage?: unknown; message?: unknown; code?: unknown };
  const errorCode = typeof e.errorCode === 'string' ? e.errorCode : typeof e.code === 'string' ? e.code : 'token_error';
  const description =
    typeof e.errorMessage === 'string' ? e.errorMessage : typeof e.message === 'string' ? e.message : '';
  // AADSTS90002: tenant not found; 700016: app not found; 7000215/7000222: bad or expired secret;
  // 65001: no consent; 500011: the resource's service principal is not in the tenant.
  const aadsts = /AADSTS(\d+)/.exec(description)?.[1];
  const rejected =
    REJECTED.has(errorCode) ||
    (aadsts !== undefined &&
      ['90002', '700016', '7000215', '7000222', '50034', '90023', '65001', '500011'].includes(aadsts));
  const message = `Token request failed: ${errorCode}${aadsts ? ` (AADSTS${aadsts})` : ''}`;
  if (err instanceof TokenEndpointUnavailable) {
    // A 5xx or 429 of Entra ID: worth waiting for, as long as the endpoint itself asks when it says.
    return new GraphFailure({
      kind: 'transient',
      code: C.TOKEN_UNAVAILABLE,
      ambiguous: false,
      httpStatus: err.httpStatus,
      graphCode: errorCode,
      retryAfterMs: err.retryAfterMs,
      message: `Token request failed: ${err.errorMessage}`,
    });
  }
  if (rejected) {
    return new GraphFailure({
      kind: 'permanent',
      code: C.TOKEN_REJECTED,
      ambiguous: false,
      graphCode: errorCode,
      message,
    });
  }
  return new GraphFailure({
    kind: 'transient',
    code: C.TOKEN_UNAVAILABLE,
    ambiguous: false,
    graphCode: errorCode,
    message,
  });
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

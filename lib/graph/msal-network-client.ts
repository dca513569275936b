import type { Got } from 'got';
import { AuthError, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { parseRetryAfter } from './retry-after.js';

/**
 * The token endpoint answered 429 or 5xx. Thrown from the network module instead of handing MSAL the
 * response: MSAL would otherwise record the answer in its throttling cache and refuse every token
 * request of the client locally for the answer's Retry-After, or for 60 s when there is none, which
 * stretched a 6-s outage of the endpoint into minutes. An AuthError passes through MSAL untouched,
 * so the caller still gets the status and the endpoint's own Retry-After.
 */
export class TokenEndpointUnavailable extends AuthError {
  constructor(
    readonly httpStatus: number,
    readonly retryAfterMs: number | undefined,
    serverErrorCode: string | undefined,
  ) {
    super(
      'token_endpoint_unavailable',
      '',
      `the token endpoint answered HTTP ${httpStatus}${serverErrorCode ? ` (${serverErrorCode})` : ''}`,
    );
    // MSAL's AuthError resets the prototype to its own in its constructor; without this, instanceof
    // would not tell this subclass apart.
    Object.setPrototypeOf(this, TokenEndpointUnavailable.prototype);
    this.name = 'TokenEndpointUnavailable';
  }
}

/**
 * MSAL's token requests go through our got instance, so proxy settings, keep-alive and timeouts are
 * the same for Entra ID as for Graph.
 */
export function msalNetworkClient(http: Got): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeoutMs?: number) => {
    const response = await http(url, {
      method,
      headers: options?.headers,
      body: options?.body,
      ...(timeoutMs ? { timeout: { request: timeoutMs } } : {}),
    });
    let body: unknown;
    try {
      body = response.body ? JSON.parse(response.body) : {};
    } catch {
      // An outage page or proxy error is not JSON; MSAL classifies by status, so keep it readable.
      body = { error: 'non_json_response', error_description: `HTTP ${response.statusCode} with a non-JSON body` };
    }
    if (method === 'POST' && (response.statusCode === 429 || response.statusCode >= 500)) {
      const serverErrorCode = (body as { error?: unknown }).error;
      throw new TokenEndpointUnavailable(
        response.statusCode,
        parseRetryAfter(response.headers['retry-after'], Date.now()),
        typeof serverErrorCode === 'string' ? serverErrorCode : undefined,
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { headers, body: body as T, status: response.statusCode } satisfies NetworkResponse<T>;
  };
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

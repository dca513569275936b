import type { Got } from 'got';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

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

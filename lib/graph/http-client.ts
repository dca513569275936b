import https from 'node:https';
import http from 'node:http';
import { got, type Got } from 'got';
import { HttpsProxyAgent, HttpProxyAgent } from 'hpagent';

export interface HttpClientOptions {
  timeoutMs: number;
  /** Sockets per origin; a little above the worker's concurrency so requests never queue for one. */
  maxSockets: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * The one keep-alive HTTP client every Graph and Entra ID request goes through (MSAL included, via
 * its network module), so connections are reused and proxies apply everywhere.
 *
 * Node 20 ignores HTTPS_PROXY on its own; we honour HTTPS_PROXY/HTTP_PROXY and NO_PROXY the way curl
 * and the Azure SDK do. Extra CAs come from NODE_EXTRA_CA_CERTS, which Node applies by itself.
 * got's own retry is off: the worker's retry policy decides, with Graph's ambiguity in mind.
 */
export function createHttpClient(options: HttpClientOptions): Got {
  const env = options.env ?? process.env;
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets };
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy;
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

  const direct = { https: new https.Agent(agentOptions), http: new http.Agent(agentOptions) };
  const proxied = {
    https: httpsProxy ? new HttpsProxyAgent({ ...agentOptions, proxy: httpsProxy }) : direct.https,
    http: httpProxy ? new HttpProxyAgent({ ...agentOptions, proxy: httpProxy }) : direct.http,
  };

  return got.extend({
    timeout: { request: options.timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
    hooks: {
      beforeRequest: [
        (request) => {
          const host = request.url instanceof URL ? request.url.hostname : new URL(String(request.url)).hostname;
          request.agent = bypassesProxy(host, noProxy) ? direct : proxied;
        },
      ],
    },
  });
}

function bypassesProxy(host: string, noProxy: string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    const bare = entry.replace(/^\*?\./, '').replace(/:\d+$/, '');
    return h === bare || h.endsWith(`.${bare}`);
  });
}

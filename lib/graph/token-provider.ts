import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { ConfidentialClientApplication, type Configuration, type INetworkModule } from '@azure/msal-node';
import { classifyTokenError } from './failure-classification.js';
import { GraphFailure } from './graph-failure.js';
import { UserError } from '../errors/user-error.js';
import { ErrorCodes } from '../errors/codes.js';

export interface AppCredentials {
  clientId: string;
  clientSecret?: string;
  /** PEM file holding the private key and its certificate (the Azure SDK's convention). */
  clientCertificatePath?: string;
  authorityHost: string;
  /** The token's audience, from GRAPH_BASE_URL (see graphScopeFor). */
  scope: string;
}

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** National clouds have their own Graph resource; everything else asks for the global one. */
const NATIONAL_GRAPH_SCOPES: Record<string, string> = {
  'graph.microsoft.us': 'https://graph.microsoft.us/.default',
  'dod-graph.microsoft.us': 'https://dod-graph.microsoft.us/.default',
  'microsoftgraph.chinacloudapi.cn': 'https://microsoftgraph.chinacloudapi.cn/.default',
};

export function graphScopeFor(graphBaseUrl: string): string {
  return NATIONAL_GRAPH_SCOPES[new URL(graphBaseUrl).hostname] ?? GRAPH_SCOPE;
}

const MICROSOFT_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/**
 * App-only tokens for Graph, one cached MSAL client per tenant (MSAL caches tokens per client and
 * reuses them until shortly before expiry). Tokens never leave this object except as the value of an
 * Authorization header.
 */
export class TokenProvider {
  private readonly clients = new Map<string, ConfidentialClientApplication>();
  private readonly certificate?: { thumbprintSha256: string; privateKey: string; x5c: string };
  /**
   * The last token per tenant and when to stop using it. MSAL's own cache is right but costs a
   * cache walk per call; at hundreds of requests per second that shows, so the hot path reads this.
   */
  private readonly recent = new Map<string, { token: string; useUntil: number }>();
  /** In-flight fetches per tenant: a burst of rows shares one token request. */
  private readonly fetching = new Map<string, Promise<string>>();
  /**
   * Tenants whose token endpoint is down (5xx, 429, unreachable): until `nextProbeAt` every caller
   * gets the last failure at once, with `retryAfterMs` pointing at the next probe, and then one
   * request probes (the callers meanwhile share it). The probe's backoff starts at 250 ms and
   * doubles to at most PROBE_CAP_MS, so a token that comes back is seen within that; the endpoint's
   * own Retry-After, when it gives one, is honoured.
   */
  private readonly outages = new Map<string, { nextProbeAt: number; stepMs: number; failure: GraphFailure }>();
  /** Tenants whose credentials Entra ID refused: their callers fail at once for REJECTION_HOLD_MS. */
  private readonly rejections = new Map<string, { failure: GraphFailure; until: number }>();

  constructor(
    private readonly credentials: AppCredentials,
    private readonly networkClient: INetworkModule,
  ) {
    if (credentials.clientCertificatePath && !credentials.clientSecret) {
      this.certificate = loadCertificate(credentials.clientCertificatePath);
    }
  }

  /** A bearer token for the tenant; `refresh` skips MSAL's cache (after a 401). Throws GraphFailure. */
  async token(tenantId: string, refresh = false): Promise<string> {
    const now = Date.now();
    const recent = this.recent.get(tenantId);
    if (!refresh && recent && recent.useUntil > now) return recent.token;
    const rejection = this.rejections.get(tenantId);
    if (rejection && rejection.until > now) throw rejection.failure;
    const shared = refresh ? undefined : this.fetching.get(tenantId);
    if (shared) return shared;
    const outage = this.outages.get(tenantId);
    if (outage && outage.nextProbeAt > now) throw withRetryAfter(outage.failure, outage.nextProbeAt - now);
    const fetch = this.acquire(tenantId, refresh).finally(() => {
      if (this.fetching.get(tenantId) === fetch) this.fetching.delete(tenantId);
    });
    if (!refresh) this.fetching.set(tenantId, fetch);
    return fetch;
  }

  private async acquire(tenantId: string, refresh: boolean): Promise<string> {
    try {
      const result = await this.client(tenantId).acquireTokenByClientCredential({
        scopes: [this.credentials.scope],
        skipCache: refresh,
      });
      if (!result?.accessToken) throw Object.assign(new Error('empty token response'), { errorCode: 'empty_response' });
      // Stop using it five minutes before it expires, as MSAL does, so a request never leaves with a
      // token that dies on the way.
      const expiresAt = result.expiresOn ? result.expiresOn.getTime() : Date.now() + 10 * 60_000;
      this.recent.set(tenantId, {
        token: result.accessToken,
        useUntil: Math.min(expiresAt - 5 * 60_000, Date.now() + 30 * 60_000),
      });
      this.outages.delete(tenantId);
      this.rejections.delete(tenantId);
      return result.accessToken;
    } catch (err) {
      this.recent.delete(tenantId);
      const failure = classifyTokenError(err);
      const now = Date.now();
      if (failure.kind === 'permanent') {
        this.rejections.set(tenantId, { failure, until: now + REJECTION_HOLD_MS });
        throw failure;
      }
      const stepMs = Math.min(PROBE_CAP_MS, (this.outages.get(tenantId)?.stepMs ?? PROBE_FIRST_MS / 2) * 2);
      const waitMs = Math.max(stepMs, failure.retryAfterMs ?? 0);
      this.outages.set(tenantId, { nextProbeAt: now + waitMs, stepMs, failure });
      throw withRetryAfter(failure, waitMs);
    }
  }

  private client(tenantId: string): ConfidentialClientApplication {
    let client = this.clients.get(tenantId);
    if (!client) {
      const host = new URL(this.credentials.authorityHost).host;
      const auth: Configuration['auth'] = {
        clientId: this.credentials.clientId,
        authority: `${this.credentials.authorityHost}/${tenantId}`,
        // Any other host (sovereign, private, a stand-in) is trusted as given, so MSAL does not ask
        // login.microsoftonline.com for instance discovery.
        ...(MICROSOFT_HOSTS.has(host) ? {} : { knownAuthorities: [host] }),
        ...(this.certificate
          ? { clientCertificate: this.certificate }
          : { clientSecret: this.credentials.clientSecret }),
      };
      client = new ConfidentialClientApplication({
        auth,
        system: {
          networkClient: this.networkClient,
          loggerOptions: { piiLoggingEnabled: false, logLevel: 0, loggerCallback: () => undefined },
        },
      });
      this.clients.set(tenantId, client);
    }
    return client;
  }
}

/** The first probe of a token outage goes this long after the failure; the backoff doubles to PROBE_CAP_MS. */
const PROBE_FIRST_MS = 250;
const PROBE_CAP_MS = 1500;
/**
 * A refused credential is not asked about again for this long: a rollout's thousand rows fail at
 * once instead of sending a thousand doomed token requests; a consent granted meanwhile is seen
 * within a minute.
 */
const REJECTION_HOLD_MS = 60_000;

/** The failure, telling its caller when the next probe goes. */
function withRetryAfter(failure: GraphFailure, retryAfterMs: number): GraphFailure {
  return new GraphFailure({
    kind: failure.kind,
    code: failure.code,
    ambiguous: false,
    message: failure.message,
    httpStatus: failure.httpStatus,
    graphCode: failure.graphCode,
    retryAfterMs,
  });
}

function loadCertificate(path: string): { thumbprintSha256: string; privateKey: string; x5c: string } {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(
      ErrorCodes.CONFIG_INVALID,
      `AZURE_CLIENT_CERTIFICATE_PATH: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const key =
    /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(
      pem,
    )?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!key || !cert)
    throw new UserError(
      ErrorCodes.CONFIG_INVALID,
      `AZURE_CLIENT_CERTIFICATE_PATH: ${path} must hold a PEM private key and certificate`,
    );
  const x509 = new X509Certificate(cert);
  return {
    thumbprintSha256: createHash('sha256').update(x509.raw).digest('hex'),
    privateKey: key,
    x5c: cert,
  };
}

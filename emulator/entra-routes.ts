import { randomUUID, timingSafeEqual } from 'node:crypto';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import type { EmulatorContext } from './emulator-context.js';
import type { RequestFaultKind } from './emulator-options.js';
import { BodyTooLargeError, type HttpExchange } from './http-exchange.js';
import type { TokenFailureMode } from './token-service.js';

/**
 * The slice of Entra ID (login.microsoftonline.com) a confidential client needs for the client
 * credentials grant: OpenID discovery, instance discovery, the key set, and the token endpoint.
 * Answers use Entra's shapes (`error`, `error_description` with an AADSTS code, `error_codes`,
 * `trace_id`, `correlation_id`) because MSAL reads those fields into its errors.
 */

/** Path words Entra accepts in place of a tenant id. Discovery works for them; tokens do not. */
const TENANT_ALIASES = new Set(['common', 'organizations', 'consumers']);

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * A token outage and the `503` token failure promise `Retry-After: 1` (docs/emulator.md), whatever
 * `faultRetryAfterMs` says: that option sets the fault dice's 503s only.
 */
const TOKEN_OUTAGE_RETRY_AFTER_MS = 1000;

/** Handles the request if it is an Entra ID route; returns false otherwise. */
export async function handleEntraRequest(context: EmulatorContext, exchange: HttpExchange): Promise<boolean> {
  const [tenant = '', ...rest] = exchange.segments;
  const path = rest.join('/');
  switch (path) {
    case 'v2.0/.well-known/openid-configuration':
      if (!allowMethod(exchange, 'GET')) return true;
      if (!isTenantOrAlias(tenant)) {
        sendEntraError(
          exchange,
          400,
          'invalid_tenant',
          90002,
          `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        );
        return true;
      }
      exchange.sendJson(200, openIdConfiguration(exchange.publicOrigin(context.origin), tenant));
      return true;
    case 'discovery/instance':
      if (!allowMethod(exchange, 'GET')) return true;
      exchange.sendJson(
        200,
        instanceDiscovery(
          exchange.publicOrigin(context.origin),
          exchange.url.searchParams.get('authorization_endpoint'),
        ),
      );
      return true;
    case 'discovery/v2.0/keys':
      if (!allowMethod(exchange, 'GET')) return true;
      // Nobody verifies emulator tokens by signature (Graph here looks them up), so the set is empty.
      exchange.sendJson(200, { keys: [] });
      return true;
    case 'oauth2/v2.0/token':
      if (!allowMethod(exchange, 'POST')) return true;
      await handleToken(context, exchange, tenant);
      return true;
    case 'oauth2/v2.0/authorize':
    case 'oauth2/v2.0/devicecode':
    case 'oauth2/v2.0/logout':
      sendEntraError(
        exchange,
        400,
        'unsupported_response_type',
        70005,
        'The emulator supports the client credentials grant only.',
      );
      return true;
    default:
      return false;
  }
}

async function handleToken(context: EmulatorContext, exchange: HttpExchange, tenant: string): Promise<void> {
  const tenantId = isObjectId(tenant) ? normalizeObjectId(tenant) : undefined;
  context.stats.tokenRequest(tenantId);

  let body: URLSearchParams;
  try {
    body = new URLSearchParams(await exchange.readText());
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      sendEntraError(exchange, 413, 'invalid_request', 900144, 'The request body is too large.');
      return;
    }
    throw error;
  }

  const fault = tenantId === undefined ? undefined : context.tokenFaultPlan.decide();
  if (fault && tenantId) {
    context.stats.tokenFault(tenantId, fault);
    sendTokenFault(exchange, fault, context.settings.faultRetryAfterMs);
    return;
  }
  if (context.settings.tokenOutage) {
    sendTokenUnavailable(exchange, TOKEN_OUTAGE_RETRY_AFTER_MS);
    return;
  }
  if (context.tokens.failure && tenantId) {
    sendTokenFailure(exchange, context.tokens.failure);
    return;
  }
  if (!tenantId) {
    sendEntraError(
      exchange,
      400,
      'invalid_request',
      900023,
      `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`,
    );
    return;
  }
  const basic = basicCredentials(exchange.req.headers.authorization);
  const clientId = body.get('client_id') ?? basic?.clientId;
  const grantType = body.get('grant_type');
  const scope = body.get('scope');
  if (!grantType) {
    sendEntraError(
      exchange,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'grant_type'.",
    );
    return;
  }
  if (grantType !== 'client_credentials') {
    sendEntraError(
      exchange,
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grantType}'. The emulator supports client_credentials only.`,
    );
    return;
  }
  if (!clientId) {
    sendEntraError(
      exchange,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'client_id'.",
    );
    return;
  }
  if (!isObjectId(clientId)) {
    sendEntraError(
      exchange,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
    );
    return;
  }
  if (!scope) {
    sendEntraError(
      exchange,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    );
    return;
  }
  const scopes = scope.split(' ').filter((item) => item !== '');
  const resource =
    scopes.length === 1 && scopes[0]?.endsWith('/.default') ? scopes[0].slice(0, -'/.default'.length) : undefined;
  if (!resource) {
    sendEntraError(
      exchange,
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
    return;
  }
  const refusal = checkClientCredential(context, body, basic?.secret);
  if (refusal) {
    sendEntraError(exchange, refusal.status, refusal.error, refusal.code, refusal.message);
    return;
  }

  const issued = context.tokens.issue(tenantId, normalizeObjectId(clientId), resource);
  context.stats.tokenIssued(tenantId);
  exchange.sendJson(
    200,
    {
      token_type: 'Bearer',
      expires_in: issued.expiresInSeconds,
      ext_expires_in: issued.expiresInSeconds,
      access_token: issued.accessToken,
    },
    entraHeaders(exchange),
  );
}

/**
 * Entra ID's 503, with a Retry-After of `retryAfterMs` when given. Retry-After is whole seconds,
 * rounded up, on purpose: MSAL parses it with parseInt and treats 0 (what "0.5" becomes) as "no
 * value", which locks its client out for 60 s.
 */
function sendTokenUnavailable(exchange: HttpExchange, retryAfterMs: number | undefined): void {
  sendEntraError(
    exchange,
    503,
    'temporarily_unavailable',
    90033,
    'A transient error has occurred. Please try again.',
    retryAfterMs === undefined ? undefined : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  );
}

/** A token request's fault, in Entra's error shape. */
function sendTokenFault(exchange: HttpExchange, fault: RequestFaultKind, retryAfterMs: number): void {
  switch (fault) {
    case 'serviceUnavailable':
      sendTokenUnavailable(exchange, retryAfterMs);
      return;
    case 'serviceUnavailableNoRetryAfter':
      sendTokenUnavailable(exchange, undefined);
      return;
    case 'internalError':
      sendEntraError(exchange, 500, 'server_error', 50000, 'There was an error issuing a token.');
      return;
    case 'badGateway':
      sendEntraError(exchange, 502, 'server_error', 50000, 'Bad gateway.');
      return;
    case 'gatewayTimeout':
      sendEntraError(exchange, 504, 'server_error', 50000, 'Gateway timeout.');
      return;
    case 'reset':
      exchange.destroyConnection();
      return;
  }
}

function sendTokenFailure(exchange: HttpExchange, mode: TokenFailureMode): void {
  switch (mode) {
    case '500':
      // Entra's 5xx often carry no Retry-After: a client that hands it to MSAL is kept off for 60 s.
      sendEntraError(
        exchange,
        500,
        'server_error',
        50000,
        'There was an error issuing a token or an issue with our sign-in service.',
      );
      return;
    case '503':
      sendTokenUnavailable(exchange, TOKEN_OUTAGE_RETRY_AFTER_MS);
      return;
    case 'invalid_client':
      // What a secret revoked or expired mid-rollout gets, whatever secret the client sends.
      sendEntraError(
        exchange,
        401,
        'invalid_client',
        7000222,
        'The provided client secret keys for app are expired. Visit the Azure portal to create new keys for your app.',
      );
      return;
  }
}

interface CredentialRefusal {
  status: number;
  error: string;
  code: number;
  message: string;
}

/**
 * A client secret is compared with the configured one (any secret passes when none is configured).
 * A client assertion (certificate credential) is checked for shape and lifetime only: the emulator
 * has no app registry holding the certificate's public key, so it cannot verify the signature and
 * does not pretend to. What it does catch is the mistakes a client can make on its own side: a wrong
 * assertion type, something that is not a JWT, an expired assertion.
 */
function checkClientCredential(
  context: EmulatorContext,
  body: URLSearchParams,
  basicSecret: string | undefined,
): CredentialRefusal | undefined {
  const secret = body.get('client_secret') ?? basicSecret;
  const assertion = body.get('client_assertion');
  if (secret !== undefined && secret !== null) {
    const expected = context.settings.clientSecret;
    if (secret === '' || (expected !== undefined && !sameText(secret, expected))) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        message:
          'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to the app.',
      };
    }
    return undefined;
  }
  if (assertion !== null) {
    if (body.get('client_assertion_type') !== JWT_BEARER) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 900144,
        message: `The request body must contain the following parameter: 'client_assertion_type' with the value '${JWT_BEARER}'.`,
      };
    }
    const claims = jwtClaims(assertion);
    if (!claims) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700025,
        message: 'Client assertion is not a well-formed JWT.',
      };
    }
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700024,
        message: 'Client assertion is not within its valid time range.',
      };
    }
    return undefined;
  }
  return {
    status: 401,
    error: 'invalid_client',
    code: 7000218,
    message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  };
}

function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) return undefined;
  try {
    JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'));
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `client_secret_basic`: RFC 6749 allows the client id and secret in an Authorization header. */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  const match = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 2.3.1 form-encodes both parts before joining them.
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return clientId === undefined || secret === undefined ? undefined : { clientId, secret };
}

function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function isTenantOrAlias(tenant: string): boolean {
  return isObjectId(tenant) || TENANT_ALIASES.has(tenant.toLowerCase());
}

/**
 * The fields of Entra's v2.0 discovery document. MSAL requires authorization_endpoint,
 * token_endpoint, issuer and jwks_uri, and checks that the issuer's scheme, host and port equal
 * the authority's (or that the host is a Microsoft login host or listed in knownAuthorities).
 */
function openIdConfiguration(origin: string, tenant: string): Record<string, unknown> {
  const base = `${origin}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'ver', 'oid'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: null,
    cloud_instance_name: new URL(origin).host,
    cloud_graph_host_name: new URL(origin).host,
    msgraph_host: new URL(origin).host,
    rbac_url: origin,
  };
}

/**
 * MSAL asks Microsoft's own host for instance discovery unless the authority is in knownAuthorities;
 * this answers the same question for clients pointed at the emulator's host instead.
 */
function instanceDiscovery(origin: string, authorizationEndpoint: string | null): Record<string, unknown> {
  const host = new URL(origin).host;
  let tenant = 'common';
  if (authorizationEndpoint) {
    try {
      tenant = new URL(authorizationEndpoint).pathname.split('/').filter(Boolean)[0] ?? 'common';
    } catch {
      tenant = 'common';
    }
  }
  return {
    tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}

function allowMethod(exchange: HttpExchange, method: string): boolean {
  if (exchange.method === method) return true;
  sendEntraError(exchange, 405, 'invalid_request', 900561, `The endpoint only accepts ${method} requests.`, {
    allow: method,
  });
  return false;
}

function entraHeaders(exchange: HttpExchange): Record<string, string> {
  return { 'x-ms-request-id': exchange.requestId, 'cache-control': 'no-store, no-cache', pragma: 'no-cache' };
}

function sendEntraError(
  exchange: HttpExchange,
  status: number,
  error: string,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const timestamp = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
  const correlationId = exchange.clientRequestId ?? randomUUID();
  exchange.sendJson(
    status,
    {
      error,
      error_description: `AADSTS${code}: ${message} Trace ID: ${exchange.requestId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: exchange.requestId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
    { ...entraHeaders(exchange), ...headers },
  );
}

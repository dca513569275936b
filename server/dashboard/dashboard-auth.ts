import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html.js';
import { sendPage } from './dashboard-page.js';

const SESSION_COOKIE = 'assignments_dashboard';

/** A stolen cookie stops working after this long even though logout cannot revoke it server-side. */
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const LOGIN_PATH = '/ui/login';
const PUBLIC_PATHS = new Set([LOGIN_PATH, '/ui/logout']);

/**
 * Who may use `/ui`. With DASHBOARD_TOKEN: `Authorization: Bearer <token>`, or the session cookie the
 * login form sets. The cookie is `v1.<expiry>.<HMAC-SHA256(token, expiry)>`: nothing is stored
 * server-side, it cannot be forged without the token, and changing the token logs everyone out.
 * Without a token the server is bound to loopback (startServer refuses otherwise), and only a
 * loopback Host header is served: a DNS-rebinding page would otherwise be same-origin with us.
 *
 * `scope` is the dashboard's (prefixed /ui), with @fastify/cookie and @fastify/formbody registered.
 */
export function registerDashboardAuth(scope: FastifyInstance, token: string | undefined): void {
  scope.addHook('onRequest', async (request, reply) => {
    if (!token) {
      if (isLoopbackHost(request.headers.host)) return;
      request.log.warn(
        { host: request.headers.host ?? null },
        'dashboard: non-loopback Host refused (no DASHBOARD_TOKEN)',
      );
      return reply.code(403).send({
        error: 'forbidden',
        message: 'without DASHBOARD_TOKEN the dashboard answers loopback host names only',
      });
    }
    if (PUBLIC_PATHS.has(pathOf(request.url))) return;
    if (
      validBearer(request.headers.authorization, token) ||
      validSession(request.cookies[SESSION_COOKIE], token, Date.now())
    )
      return;
    return refuse(request, reply);
  });

  scope.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (!token || validSession(request.cookies[SESSION_COOKIE], token, Date.now())) return reply.redirect(next, 303);
    return loginPage(reply, next, null);
  });

  scope.post<{ Body: { token?: unknown; next?: unknown } | undefined }>('/login', async (request, reply) => {
    const next = safeNext(request.body?.next);
    if (!token) return reply.redirect(next, 303);
    const given = request.body?.token;
    if (typeof given !== 'string' || !sameSecret(given, token)) {
      request.log.warn({ ip: request.ip }, 'dashboard: login refused');
      return loginPage(reply, next, 'Wrong token.', 401);
    }
    const expiresAt = Date.now() + SESSION_TTL_MS;
    request.log.info({ ip: request.ip }, 'dashboard: login');
    return reply
      .setCookie(SESSION_COOKIE, sessionValue(token, expiresAt), {
        path: '/ui',
        httpOnly: true,
        sameSite: 'strict',
        secure: servedOverHttps(request),
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      })
      .redirect(next, 303);
  });

  scope.post('/logout', async (_request, reply) =>
    reply.clearCookie(SESSION_COOKIE, { path: '/ui' }).redirect(LOGIN_PATH, 303),
  );
}

/** Browsers go to the login form (and come back afterwards); scripts get a 401 to act on. */
function refuse(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (wantsHtml(request)) {
    const next = request.method === 'GET' ? `?next=${encodeURIComponent(safeNext(request.url))}` : '';
    return reply.redirect(`${LOGIN_PATH}${next}`, 303);
  }
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="assignments-dashboard"')
    .send({ error: 'unauthorized', message: 'send Authorization: Bearer <DASHBOARD_TOKEN>, or log in at /ui/login' });
}

function loginPage(reply: FastifyReply, next: string, error: string | null, statusCode = 200): FastifyReply {
  return sendPage(
    reply,
    {
      title: 'Log in',
      body: html`<div class="login">
<h1>Dashboard login</h1>
${error && html`<p class="flash error" role="alert">${error}</p>`}
<form method="post" action="${LOGIN_PATH}">
  <label for="token">Dashboard token (<code>DASHBOARD_TOKEN</code>)</label>
  <input id="token" type="password" name="token" autocomplete="current-password" required autofocus>
  <input type="hidden" name="next" value="${next}">
  <button type="submit">Log in</button>
</form>
</div>`,
    },
    statusCode,
  );
}

/**
 * Behind a TLS-terminating proxy the cookie must be Secure. X-Forwarded-Proto is believed without
 * trustProxy because a forged one can only make the cookie stricter.
 */
function servedOverHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return request.protocol === 'https' || first === 'https';
}

export function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

/** Only a path of ours: `next` must not become an open redirect (`//evil.example`, `/\evil`). */
function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return '/ui';
  if (!/^\/ui(?:[/?#]|$)/.test(value) || /[\\\s]/.test(value) || value.startsWith(LOGIN_PATH)) return '/ui';
  return value;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function validBearer(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && sameSecret(match[1]!, token);
}

/** Digests first: equal lengths for timingSafeEqual, and the token's length does not leak either. */
function sameSecret(given: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}

function sessionMac(token: string, expiresAt: number): string {
  return createHmac('sha256', token).update(`assignments-dashboard-session|v1|${expiresAt}`).digest('base64url');
}

function sessionValue(token: string, expiresAt: number): string {
  return `v1.${expiresAt}.${sessionMac(token, expiresAt)}`;
}

function validSession(value: string | undefined, token: string, nowMs: number): boolean {
  const match = /^v1\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!match) return false;
  const expiresAt = Number(match[1]);
  if (!(expiresAt > nowMs)) return false;
  return timingSafeEqual(Buffer.from(match[2]!), Buffer.from(sessionMac(token, expiresAt)));
}

/** The Host header names a loopback address (the address we are bound to is checked by startServer). */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  name = name.replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

import type { FastifyInstance, FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses writes (the retry button, login, logout) that a browser sent on behalf of another site.
 * The session cookie is SameSite=Strict already; this also covers the token-less loopback mode,
 * where there is no cookie to withhold. Browsers always send Origin on a cross-origin POST, so a
 * request with neither Origin nor Referer is a script or curl, which cross-site forgery is not.
 */
export function refuseCrossSiteWrites(scope: FastifyInstance): void {
  scope.addHook('onRequest', async (request, reply) => {
    if (SAFE_METHODS.has(request.method) || !isCrossSite(request)) return;
    request.log.warn(
      { origin: request.headers.origin ?? null, url: request.url.split('?')[0] },
      'dashboard: cross-site write refused',
    );
    return reply
      .code(403)
      .send({ error: 'forbidden', message: 'cross-site request refused (Origin or Referer is not this host)' });
  });
}

export function isCrossSite(request: FastifyRequest): boolean {
  const host = request.headers.host?.toLowerCase();
  const { origin, referer } = request.headers;
  if (origin !== undefined) return !host || hostOf(origin) !== host;
  if (referer !== undefined) return !host || hostOf(referer) !== host;
  return false;
}

/** `null` (an opaque origin: sandboxed frame, file:) or garbage never matches. */
function hostOf(url: string): string | null {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return null;
  }
}

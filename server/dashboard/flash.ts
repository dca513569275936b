import type { FastifyReply, FastifyRequest } from 'fastify';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

const FLASH_COOKIE = 'assignments_dashboard_flash';

/**
 * The result of a POST, shown once by the page it redirects to (post/redirect/get, so a reload does
 * not retry again). A cookie rather than a query parameter: a link someone sends cannot make the
 * page display a message of their choosing.
 */
export function setFlash(reply: FastifyReply, flash: Flash): FastifyReply {
  const value = JSON.stringify({ kind: flash.kind, text: flash.text.slice(0, 500) });
  return reply.setCookie(FLASH_COOKIE, value, { path: '/ui', httpOnly: true, sameSite: 'strict', maxAge: 60 });
}

/** Reads and clears the flash; whatever the cookie holds is treated as untrusted text. */
export function takeFlash(request: FastifyRequest, reply: FastifyReply): Flash | null {
  const raw = request.cookies[FLASH_COOKIE];
  if (raw === undefined) return null;
  reply.clearCookie(FLASH_COOKIE, { path: '/ui' });
  try {
    const parsed = JSON.parse(raw) as Partial<Flash>;
    if (typeof parsed.text !== 'string') return null;
    return { kind: parsed.kind === 'ok' ? 'ok' : 'error', text: parsed.text };
  } catch {
    return null;
  }
}

import type { FastifyInstance } from 'fastify';

/**
 * In this plugin's scope every request body arrives as the exact bytes sent (a Buffer): a signature
 * is over the bytes, and a JSON re-serialization would not match them. `bodyLimit` answers 413
 * beyond it.
 */
export function rawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
}

/** The body as sent; an empty Buffer when there was none. */
export function rawBodyOf(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/** JSON of a raw body, or null when it is not JSON. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

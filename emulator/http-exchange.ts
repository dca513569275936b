import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the emulator reads; Graph's own limit is 4 MB, our bodies are tiny. */
const MAX_BODY_BYTES = 1024 * 1024;

/** The body was larger than MAX_BODY_BYTES. */
export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body larger than ${MAX_BODY_BYTES} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * One request and its response, with the identifiers Graph and Entra ID put on every answer: a fresh
 * `request-id` and the caller's `client-request-id` echoed back, so a client's logs can be matched
 * to the emulator's the same way Microsoft support matches them.
 */
export class HttpExchange {
  readonly requestId = randomUUID();
  readonly clientRequestId: string | undefined;
  readonly url: URL;
  /** Path segments, percent-decoded, without empty ones. */
  readonly segments: string[];
  readonly method: string;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    origin: string,
  ) {
    const header = req.headers['client-request-id'];
    this.clientRequestId = typeof header === 'string' && header.length <= 200 ? header : undefined;
    // Joined rather than resolved: a path like `//host/x` must stay a path, not become a host.
    const path = req.url ?? '/';
    this.url = new URL(`${origin}${path.startsWith('/') ? '' : '/'}${path}`);
    this.segments = this.url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map(safeDecode);
    this.method = (req.method ?? 'GET').toUpperCase();
  }

  /** The whole body as text. Rejects with BodyTooLargeError past the limit. */
  async readText(): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
      chunks.push(buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  sendJson(status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    this.send(status, text, { 'content-type': 'application/json; charset=utf-8', ...headers });
  }

  sendEmpty(status: number, headers: Record<string, string> = {}): void {
    this.send(status, undefined, headers);
  }

  /**
   * Drops the connection without an answer, as a load balancer or a crashed frontend would. The
   * client sees a socket error (ECONNRESET or "socket hang up"), never a status.
   */
  destroyConnection(): void {
    this.req.socket.destroy();
  }

  /**
   * The origin the client dialled (from the Host header when it is a plain host[:port]), so the
   * absolute URLs the emulator hands out (nextLinks, discovery endpoints, the issuer MSAL compares
   * with its authority) match whether the client called 127.0.0.1, localhost or [::1].
   */
  publicOrigin(fallback: string): string {
    const host = this.req.headers.host;
    return host !== undefined && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(host)
      ? `https://${host}`
      : fallback;
  }

  get answered(): boolean {
    return this.res.headersSent || this.req.socket.destroyed;
  }

  private send(status: number, text: string | undefined, headers: Record<string, string>): void {
    if (this.answered) return;
    const all: Record<string, string> = { 'request-id': this.requestId, ...headers };
    if (this.clientRequestId !== undefined) all['client-request-id'] = this.clientRequestId;
    if (text !== undefined) all['content-length'] = String(Buffer.byteLength(text));
    this.res.writeHead(status, all);
    this.res.end(text);
  }
}

/** A malformed escape stays as written: a route will not match it, which answers 400/404 as it should. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { RunningEmulator } from '../../emulator/emulator-server.js';

/** One request that passed the tap, as the client sent it. */
export interface TappedRequest {
  method: string;
  /** Path and query, e.g. `/beta/officeConfiguration/clientConfigurations/{id}/assignments`. */
  path: string;
  /** The Authorization header as sent (the bearer token), for tests that must find it nowhere else. */
  authorization: string | undefined;
  /** The status the client got; undefined when the connection was dropped. */
  status?: number;
}

/** A canned answer the tap gives instead of forwarding. */
export interface TapAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A request the tap forwards to the emulator (which commits it) and then fails on the way back, the
 * way Graph leaves a write in doubt: `reset` drops the client's connection with no answer, `hang`
 * never answers (the client times out), an answer replaces the emulator's (a 504 after the commit).
 */
export interface TapAfterCommit {
  afterCommit: 'reset' | 'hang' | TapAnswer;
}

/** The connection is dropped before anything is forwarded: nothing reaches the emulator. */
export interface TapReset {
  reset: true;
}

export type TapAction = TapAnswer | TapAfterCommit | TapReset;

/**
 * An HTTPS pass-through in front of the emulator's Graph, for what the emulator does not count: every
 * request to a path (the emulator's stats are per tenant and skip refused POSTs), and the bearer tokens
 * clients sent. It serves the emulator's own certificate, so clients that trust the emulator trust it;
 * point GRAPH_BASE_URL at `graphBaseUrl`. `intercept` may answer a request itself (a 401, say), drop
 * it, or forward it and then fail on the way back (see TapAction).
 */
export interface GraphTap {
  origin: string;
  graphBaseUrl: string;
  requests: TappedRequest[];
  close(): Promise<void>;
}

export async function startGraphTap(
  emulator: RunningEmulator,
  certDir: string,
  intercept?: (req: IncomingMessage, seen: readonly TappedRequest[]) => TapAction | undefined,
): Promise<GraphTap> {
  const cert = readFileSync(join(certDir, 'emulator-cert.pem'), 'utf8');
  const key = readFileSync(join(certDir, 'emulator-key.pem'), 'utf8');
  const requests: TappedRequest[] = [];
  const upstream = new URL(emulator.origin);

  const server: Server = createServer({ cert, key }, (req: IncomingMessage, res: ServerResponse) => {
    const entry: TappedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authorization: req.headers.authorization,
    };
    requests.push(entry);
    const action = intercept?.(req, requests);
    const answer = (canned: TapAnswer): void => {
      const text = JSON.stringify(canned.body);
      entry.status = canned.status;
      res.writeHead(canned.status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        ...canned.headers,
      });
      res.end(text);
    };
    if (action && 'reset' in action) {
      req.resume();
      res.destroy();
      return;
    }
    if (action && 'status' in action) {
      req.resume();
      answer(action);
      return;
    }
    if (action && 'afterCommit' in action) {
      const after = action.afterCommit;
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
          ca: cert,
        },
        (upstreamAnswer) => {
          upstreamAnswer.resume();
          upstreamAnswer.on('end', () => {
            if (after === 'reset') res.destroy();
            else if (after !== 'hang') answer(after);
            // 'hang': no answer; the client gives up, and close() drops the connection.
          });
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
      return;
    }
    // The Host header stays the tap's, so nextLinks the emulator writes come back through the tap.
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        ca: cert,
      },
      (answer) => {
        entry.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    // The emulator dropped the connection (a reset fault): so does the tap.
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    graphBaseUrl: `${origin}/beta`,
    requests,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

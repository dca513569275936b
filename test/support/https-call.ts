import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';

/** What an HTTPS exchange answered; `json` is `{}` for an empty body. */
export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

export interface HttpsCallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTPS exchange with the emulator on a fresh connection (`agent: false`, so a reset fault never
 * poisons a kept-alive socket), trusting its certificate `ca`; rejects on a socket error.
 */
export function httpsCall(ca: string | Buffer, url: string, init: HttpsCallInit = {}): Promise<HttpsAnswer> {
  return new Promise((resolveCall, rejectCall) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', rejectCall);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
        resolveCall({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', rejectCall);
    req.end(init.body);
  });
}

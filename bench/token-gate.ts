import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { RunningEmulator } from '../emulator/emulator-server.js';

/** A stand-in Entra ID in front of the emulator that refuses some tenants' token requests. */
export interface TokenGate {
  /** `https://127.0.0.1:PORT`: the AZURE_AUTHORITY_HOST for the workers. */
  origin: string;
  /** Token requests refused, per tenant. */
  refused: Map<string, number>;
  close(): Promise<void>;
}

/**
 * The emulator's token failure (`PUT token-failure`, mode `invalid_client`) refuses every tenant,
 * and it has no per-tenant one, so a scenario where one tenant's secret is revoked and the others'
 * is not runs its workers' authority through this gate: an HTTPS server on the emulator's own
 * certificate that answers `POST /{tenant}/oauth2/v2.0/token` of the `refuse` tenants with Entra's
 * 401 `invalid_client` (AADSTS7000215) and passes everything else, Host header included (so the
 * OpenID document names the gate), to the emulator. Graph calls go to the emulator directly.
 *
 * TODO(emulator): replace with the emulator's own per-tenant token failure once it has one.
 */
export async function startTokenGate(emulator: RunningEmulator, refuse: readonly string[]): Promise<TokenGate> {
  const refusedTenants = new Set(refuse.map((t) => t.toLowerCase()));
  const refused = new Map<string, number>();
  const ca = readFileSync(emulator.caCertPath, 'utf8');
  const target = new URL(emulator.origin);
  const server = createServer(
    { cert: ca, key: readFileSync(join(dirname(emulator.caCertPath), 'emulator-key.pem'), 'utf8') },
    (req, res) => {
      const [tenant = '', ...rest] = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
      if (req.method === 'POST' && rest.join('/') === 'oauth2/v2.0/token' && refusedTenants.has(tenant.toLowerCase())) {
        req.resume();
        req.on('end', () => {
          refused.set(tenant, (refused.get(tenant) ?? 0) + 1);
          const body = JSON.stringify({
            error: 'invalid_client',
            error_description:
              'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to the app.',
            error_codes: [7000215],
          });
          res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
          ca,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { dirname } from 'node:path';
import type { RunningEmulator } from '../emulator/emulator-server.js';
import { startGraphTap } from '../test/support/graph-tap.js';

/** A stand-in Entra ID in front of the emulator that refuses some tenants' token requests. */
export interface TokenGate {
  /** `https://127.0.0.1:PORT`: the AZURE_AUTHORITY_HOST for the workers. */
  origin: string;
  /** Token requests the gate refused. */
  refused(): number;
  close(): Promise<void>;
}

/** Entra's answer to a wrong or revoked client secret. */
const INVALID_CLIENT = {
  status: 401,
  body: {
    error: 'invalid_client',
    error_description:
      'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to the app.',
    error_codes: [7000215],
  },
};

/**
 * The emulator's token failure (`PUT token-failure`, mode `invalid_client`) refuses every tenant or
 * none, so a scenario where one tenant's secret is revoked and the others' is not points the workers'
 * authority (AZURE_AUTHORITY_HOST) at this gate: the tests' Graph tap (test/support/graph-tap.ts),
 * which answers `POST /{tenant}/oauth2/v2.0/token` of the `refuse` tenants with Entra's 401
 * `invalid_client` and passes everything else to the emulator with its Host header, so the OpenID
 * document names the gate. Graph calls go to the emulator directly.
 *
 * TODO(emulator): use the emulator's own per-tenant token failure once it has one.
 */
export async function startTokenGate(emulator: RunningEmulator, refuse: readonly string[]): Promise<TokenGate> {
  const refused = new Set(refuse.map((t) => t.toLowerCase()));
  const tap = await startGraphTap(emulator, dirname(emulator.caCertPath), (req) => {
    const [tenant = '', ...rest] = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
    const refuseIt =
      req.method === 'POST' && rest.join('/') === 'oauth2/v2.0/token' && refused.has(tenant.toLowerCase());
    return refuseIt ? INVALID_CLIENT : undefined;
  });
  return {
    origin: tap.origin,
    refused: () => tap.requests.filter((r) => r.status === 401).length,
    close: () => tap.close(),
  };
}

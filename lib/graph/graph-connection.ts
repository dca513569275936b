import type { Config } from '../config.js';
import { createHttpClient } from './http-client.js';
import { msalNetworkClient } from './msal-network-client.js';
import { TokenProvider, graphScopeFor } from './token-provider.js';
import { AssignmentsApi } from './assignments-api.js';
import { officeClientConfigurationKind } from './kinds/office-client-configuration.js';

/**
 * The assignments API wired from configuration: one keep-alive HTTP client shared by Graph and
 * MSAL, the app's credentials, and the assignment kind rolled out (workers and producers take it
 * from the API: a second kind would be chosen here). Reads the certificate file at once, so a bad
 * AZURE_CLIENT_CERTIFICATE_PATH is reported before anything else happens.
 */
export function connectGraph(config: Config, maxSockets: number): AssignmentsApi {
  const http = createHttpClient({ timeoutMs: config.graphTimeoutMs, maxSockets });
  const tokens = new TokenProvider(
    {
      clientId: config.clientId!,
      clientSecret: config.clientSecret,
      clientCertificatePath: config.clientCertificatePath,
      authorityHost: config.authorityHost,
      scope: graphScopeFor(config.graphBaseUrl),
    },
    msalNetworkClient(http),
  );
  return new AssignmentsApi(http, tokens, config.graphBaseUrl, officeClientConfigurationKind);
}

import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensureCertificate } from './certificate.js';
import { handleControlRequest } from './control-routes.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID } from './demo-identity.js';
import { cancelPendingCommits, type EmulatorContext } from './emulator-context.js';
import { resolveEmulatorOptions, type EmulatorOptions } from './emulator-options.js';
import { EmulatorState } from './emulator-state.js';
import { EmulatorStats } from './emulator-stats.js';
import { handleEntraRequest } from './entra-routes.js';
import { FaultPlan } from './fault-plan.js';
import { sendGraphError } from './graph-error.js';
import { handleGraphRequest } from './graph-routes.js';
import { HttpExchange } from './http-exchange.js';
import { RequestFaultPlan } from './request-fault-plan.js';
import { TenantThrottles } from './tenant-throttles.js';
import { TokenService } from './token-service.js';

export type {
  EmulatorOptions,
  FaultRates,
  FaultKind,
  RequestFaultRates,
  RequestFaultKind,
  RetryAfterFormat,
} from './emulator-options.js';
export type { ThrottleSpec, ThrottleModelName, ThrottleSignal } from './throttle-model.js';

/**
 * The emulator: Microsoft Graph (the Office client configuration assignments of Graph beta) and the
 * client-credentials slice of Entra ID, on one HTTPS origin, with a control API beside them. It is
 * the project's stand-in for Microsoft in demos, tests and benchmarks; its truth is what a rollout's
 * outcomes are checked against.
 */
export interface RunningEmulator {
  /** `https://127.0.0.1:PORT` (or the host it listens on). */
  origin: string;
  /** `origin + '/beta'`, the GRAPH_BASE_URL for clients. */
  graphBaseUrl: string;
  /** `origin`, the AZURE_AUTHORITY_HOST for clients; authorities are `${authorityHost}/${tenantId}`. */
  authorityHost: string;
  /** Absolute path of the PEM certificate clients must trust (NODE_EXTRA_CA_CERTS). */
  caCertPath: string;
  /** The environment a client process needs to talk to this emulator as `tenantId` (default: the demo tenant). */
  env(tenantId?: string): Record<string, string>;
  /**
   * Stops listening and drops open connections, but keeps the truth, counters, issued tokens and
   * pending slow commits: until `resume()` clients get connections refused, as when Graph's front
   * end restarts and its store does not. Chaos tests use it to check a rollout against a truth that
   * spans the outage, which a restarted emulator process (state in memory) could not give.
   */
  suspend(): Promise<void>;
  /** Listens again on the same host and port after `suspend()`. */
  resume(): Promise<void>;
  /** Stops listening, drops open connections and cancels pending slow commits. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const resolved = resolveEmulatorOptions(options);
  const faultPlan = new FaultPlan(resolved.faults, resolved.seed);
  // Their own sequences (seeded off the same seed) so read and token faults never shift the POST faults.
  const readFaultPlan = (): RequestFaultPlan =>
    new RequestFaultPlan(resolved.readFaults, offsetSeed(resolved.seed, 1), 'read fault');
  const tokenFaultPlan = (): RequestFaultPlan =>
    new RequestFaultPlan(resolved.tokenFaults, offsetSeed(resolved.seed, 2), 'token fault');
  const throttles = new TenantThrottles();
  const applyThrottles = (): void => {
    throttles.setGlobal(resolved.throttle);
    for (const [tenantId, spec] of Object.entries(resolved.tenantThrottle)) throttles.setTenant(tenantId, spec);
  };
  applyThrottles();
  const certificate = await ensureCertificate(resolved.certDir);

  const context: EmulatorContext = {
    origin: '',
    state: new EmulatorState(resolved.strictConfigurations),
    stats: new EmulatorStats(),
    throttles,
    faultPlan,
    readFaultPlan: readFaultPlan(),
    tokenFaultPlan: tokenFaultPlan(),
    tokens: new TokenService(resolved.tokenLifetimeSeconds),
    settings: {
      retryAfterFormat: resolved.retryAfterFormat,
      latencyMs: resolved.latencyMs,
      faultRetryAfterMs: resolved.faultRetryAfterMs,
      slowCommitMs: resolved.slowCommitMs,
      pageSize: resolved.pageSize,
      clientSecret: resolved.clientSecret,
      tokenOutage: false,
    },
    pendingCommits: new Set(),
  };

  /** Back to the state at start: empty truth and counters, the configured limits and faults, no outage. */
  const reset = (): void => {
    cancelPendingCommits(context);
    context.state.clear();
    context.stats.clear();
    context.throttles.clear();
    applyThrottles();
    // A fresh plan restarts the seeded sequence, so a test after a reset sees the same faults as the first.
    context.faultPlan = new FaultPlan(resolved.faults, resolved.seed);
    context.readFaultPlan = readFaultPlan();
    context.tokenFaultPlan = tokenFaultPlan();
    context.settings.tokenOutage = false;
  };

  const server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    let exchange: HttpExchange;
    try {
      exchange = new HttpExchange(req, res, context.origin);
    } catch {
      // A request line even the URL parser refuses; a throw here would take the process down.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request target\n');
      return;
    }
    route(context, exchange, reset).catch((error: unknown) => {
      // A bug in a handler must still answer, or the client waits for its own timeout and the
      // failure looks like one of the emulator's deliberate faults.
      if (!exchange.answered) {
        sendGraphError(
          exchange,
          500,
          'InternalServerError',
          `Emulator error: ${(error as Error).message ?? String(error)}`,
        );
      }
    });
  });

  await listen(server, resolved.port, resolved.host);
  const port = (server.address() as AddressInfo).port;
  context.origin = `https://${originHost(resolved.host)}:${port}`;
  const origin = context.origin;

  let closing: Promise<void> | undefined;
  let suspended = false;
  const stopListening = (): Promise<void> =>
    new Promise<void>((resolveStop, rejectStop) => {
      server.close((error) => (error ? rejectStop(error) : resolveStop()));
      // Keep-alive connections would hold close() open until they idle out.
      server.closeAllConnections();
    });
  return {
    origin,
    graphBaseUrl: `${origin}/beta`,
    authorityHost: origin,
    caCertPath: certificate.certPath,
    env(tenantId = DEMO_TENANT_ID) {
      return {
        GRAPH_BASE_URL: `${origin}/beta`,
        AZURE_AUTHORITY_HOST: origin,
        NODE_EXTRA_CA_CERTS: certificate.certPath,
        AZURE_TENANT_ID: tenantId,
        AZURE_CLIENT_ID: DEMO_CLIENT_ID,
        AZURE_CLIENT_SECRET: resolved.clientSecret ?? DEMO_CLIENT_SECRET,
      };
    },
    async suspend() {
      if (closing) throw new Error('the emulator is closed');
      if (suspended) return;
      suspended = true;
      await stopListening();
    },
    async resume() {
      if (closing) throw new Error('the emulator is closed');
      if (!suspended) return;
      await listen(server, port, resolved.host);
      suspended = false;
    },
    close() {
      closing ??= (() => {
        cancelPendingCommits(context);
        return suspended ? Promise.resolve() : stopListening();
      })();
      return closing;
    },
  };
}

async function route(context: EmulatorContext, exchange: HttpExchange, reset: () => void): Promise<void> {
  const [first] = exchange.segments;
  if (first === '_emulator') return handleControlRequest(context, exchange, reset);
  if (first === 'beta') return handleGraphRequest(context, exchange);
  if (await handleEntraRequest(context, exchange)) return;
  sendGraphError(
    exchange,
    404,
    'ResourceNotFound',
    `No route for ${exchange.method} ${exchange.url.pathname}. Graph lives under /beta.`,
  );
}

/** Rejects with the listen error itself (EADDRINUSE, EACCES…) so callers can tell which it was. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolveListen, rejectListen) => {
    const onError = (error: Error): void => rejectListen(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
}

function offsetSeed(seed: number | undefined, offset: number): number | undefined {
  return seed === undefined ? undefined : (seed + offset) | 0;
}

/** The host clients should dial: a wildcard address is not dialable, loopback is. */
function originHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

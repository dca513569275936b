import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { OutcomeKind } from '../outcome.js';

/** Retry-After as Graph sends it: from fractions of a second to Intune's minutes-long pauses. */
const RETRY_AFTER_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** Graph answers in tens to hundreds of milliseconds; the top buckets catch GRAPH_TIMEOUT_MS. */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * What one worker process saw of Graph and its rows. The registry is private to this object (never
 * prom-client's global one), so the fleet view can add several processes' registries up (see
 * fleet-metrics.ts) and tests can build as many as they like.
 *
 * `tenant` labels run into the thousands for an MSP; the histograms carry no tenant so their series
 * count stays fixed.
 */
export class WorkerMetrics {
  readonly registry = new Registry();

  private readonly outcomes = new Counter({
    name: 'assignments_outcomes_total',
    help: 'Row outcomes recorded (a re-run that found the outcome already there is not counted), by tenant and outcome.',
    labelNames: ['tenant', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly requests = new Counter({
    name: 'assignments_graph_requests_total',
    help: 'Graph requests answered or failed, by tenant, method and HTTP status (or transport error code such as ETIMEDOUT).',
    labelNames: ['tenant', 'method', 'status'] as const,
    registers: [this.registry],
  });

  private readonly throttles = new Counter({
    name: 'assignments_graph_throttled_total',
    help: 'Graph 429 answers, by tenant.',
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });

  private readonly pauses = new Counter({
    name: 'assignments_lane_pauses_total',
    help: 'Times a tenant lane was told to pause by a 429 or 503 (each answer of a burst counts).',
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });

  private readonly retryAfter = new Histogram({
    name: 'assignments_retry_after_seconds',
    help: 'Retry-After asked for by Graph 429 answers that carried one.',
    buckets: RETRY_AFTER_BUCKETS,
    registers: [this.registry],
  });

  private readonly latency = new Histogram({
    name: 'assignments_graph_request_duration_seconds',
    help: 'Time from handing a Graph request to the HTTP client until its answer or failure, by method.',
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** `status`: the HTTP status, or the transport's code when no answer came. */
  graphRequest(tenantId: string, method: string, status: number | string, seconds: number): void {
    this.requests.inc({ tenant: tenantId, method, status: String(status) });
    this.latency.observe({ method }, seconds);
  }

  /** A 429; `retryAfterMs` is undefined when Graph gave no Retry-After. */
  throttled(tenantId: string, retryAfterMs: number | undefined): void {
    this.throttles.inc({ tenant: tenantId });
    if (retryAfterMs !== undefined) this.retryAfter.observe(retryAfterMs / 1000);
  }

  lanePaused(tenantId: string): void {
    this.pauses.inc({ tenant: tenantId });
  }

  outcome(tenantId: string, outcome: OutcomeKind): void {
    this.outcomes.inc({ tenant: tenantId, outcome });
  }
}

/**
 * Serves one worker's registry at `GET /metrics` (METRICS_PORT), for a Prometheus that scrapes each
 * worker instead of the server's fleet view. Loopback only: the tenant ids in the labels are not for
 * the network at large, and a scraper on the same host (or a sidecar) reaches loopback.
 */
export async function serveWorkerMetrics(
  registry: Registry,
  port: number,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => response.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // A scraper's keep-alive connection would otherwise hold the worker's exit up.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

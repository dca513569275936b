import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { scrapeFleet } from '../lib/metrics/fleet-metrics.js';
import type { ServerDeps } from './server-deps.js';

/**
 * `GET /metrics`: the whole fleet in one Prometheus scrape, so Prometheus needs one target however
 * many workers run and wherever they run. Workers' counts come through Redis (see fleet-metrics.ts).
 */
export function registerMetricsRoute(app: FastifyInstance, deps: ServerDeps & { serverRegistry: Registry }): void {
  const queues = [deps.queues.assignments, deps.queues.syncs, deps.queues.events];
  app.get('/metrics', async (_request, reply) => {
    const { text, contentType } = await scrapeFleet({
      redis: deps.redis,
      keys: deps.keys,
      queues,
      serverRegistry: deps.serverRegistry,
    });
    return reply.type(contentType).send(text);
  });
}

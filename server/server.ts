import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { checkRedisAnswers, connectRedis } from '../lib/redis/redis-connection.js';
import { RedisKeys } from '../lib/redis/redis-keys.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { PromEventMetrics } from '../lib/metrics/event-metrics.js';
import { openSyncQueue } from '../lib/queues/sync-queue.js';
import { openEventQueue } from '../lib/queues/event-queue.js';
import { readEventRulesFile } from '../producer/event-rules.js';
import type { EventRule } from '../lib/queues/event-rule.js';
import type { ServerDeps } from './server-deps.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerEventRoutes } from './event-routes.js';
import { registerGraphWebhookRoutes } from './graph-webhook-routes.js';
import { registerMetricsRoute } from './metrics-route.js';
import { registerDashboard } from './dashboard/dashboard-routes.js';

export interface RunningServer {
  /** Where it listens, e.g. http://127.0.0.1:3000. */
  url: string;
  close(): Promise<void>;
}

/** Loopback addresses: the only ones the dashboard may be served on without DASHBOARD_TOKEN. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The server with its routes, not yet listening (tests inject requests into it). */
export async function buildServer(
  deps: ServerDeps,
  rules: readonly EventRule[],
  serverRegistry: Registry,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // A line per request would drown the log at event rates; failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.eventsMaxBodyBytes,
  });
  registerHealthRoutes(app, deps);
  await registerEventRoutes(app, deps, rules);
  await registerGraphWebhookRoutes(app, deps, rules);
  registerMetricsRoute(app, { ...deps, serverRegistry });
  await registerDashboard(app, deps);
  return app;
}

/**
 * `assignments serve`: event intake, Graph change notifications, health, metrics and the dashboard
 * in one Fastify server. Refuses to start on a non-loopback address without DASHBOARD_TOKEN, and
 * with a RULES_FILE that does not validate.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  if (!isLoopback(config.serverHost) && !config.dashboardToken) {
    throw new UserError(
      ErrorCodes.CONFIG_INVALID,
      `DASHBOARD_TOKEN: is required when SERVER_HOST is not a loopback address (got ${JSON.stringify(config.serverHost)}): the dashboard can retry rollouts`,
    );
  }
  const rules = config.rulesFile ? await readEventRulesFile(config.rulesFile) : [];
  if (!config.rulesFile) logger.warn('RULES_FILE is not set: events are accepted but match no rule');
  if (!config.eventsHmacSecret) logger.warn('EVENTS_HMAC_SECRET is not set: POST /events answers 503');
  if (!config.graphWebhookClientState)
    logger.warn(
      'GRAPH_WEBHOOK_CLIENT_STATE is not set: POST /webhooks/graph answers 503 (the validation handshake still works)',
    );

  const redis = connectRedis(config.redisUrl, 'server');
  redis.on('error', (err: Error) => logger.warn({ err }, 'Redis connection error; reconnecting'));
  try {
    await checkRedisAnswers(redis, config.redisUrl);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const queues = {
    assignments: openQueue(redis, config.queuePrefix),
    syncs: openSyncQueue(redis, config.queuePrefix),
    events: openEventQueue(redis, config.queuePrefix),
  };
  for (const queue of Object.values(queues))
    queue.on('error', (err: Error) => logger.warn({ err, queue: queue.name }, 'queue error'));
  const serverRegistry = new Registry();
  const deps: ServerDeps = {
    config,
    logger,
    redis,
    keys: new RedisKeys(config.queuePrefix),
    store: new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs),
    queues,
    eventMetrics: new PromEventMetrics(serverRegistry),
  };
  const app = await buildServer(deps, rules, serverRegistry);
  await app.listen({ host: config.serverHost, port: config.serverPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.serverPort;
  const host = config.serverHost.includes(':') ? `[${config.serverHost}]` : config.serverHost;
  const url = `http://${host}:${port}`;
  logger.info({ url, rules: rules.length }, 'server listening');
  return {
    url,
    async close() {
      await app.close();
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

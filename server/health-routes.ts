import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './server-deps.js';

/** A Redis that does not answer within this long makes the server not ready. */
const READY_TIMEOUT_MS = 1000;

/**
 * `GET /healthz`: the process is up (for liveness probes: restarting us would not help Redis).
 * `GET /readyz`: Redis answers, with the number of workers BullMQ sees on the assignments queue;
 * 503 when Redis does not answer in time.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      const workers = await withTimeout(
        (async () => {
          await deps.redis.ping();
          return deps.queues.assignments.getWorkersCount();
        })(),
        READY_TIMEOUT_MS,
      );
      return { status: 'ready', redis: 'up', workers };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', redis: 'down', error: (err as Error).message });
    }
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

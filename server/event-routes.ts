import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseAssignmentEvent } from '../producer/assignment-event.js';
import { verifyEventSignature } from '../producer/event-signature.js';
import { candidateRules } from '../producer/event-rules.js';
import type { EventRule } from '../lib/queues/event-rule.js';
import { enqueueEvent, type AssignmentEvent } from '../lib/queues/event-queue.js';
import type { EventRejection } from '../lib/metrics/event-metrics.js';
import type { ServerDeps } from './server-deps.js';
import { parseJson, rawBodies, rawBodyOf } from './raw-body.js';

/** How long an event id is remembered: a redelivery within it is accepted and ignored. */
const SEEN_TTL_SECONDS = 7 * 24 * 3600;

/**
 * `POST /events`: JSON events from an HR or identity system, signed with EVENTS_HMAC_SECRET (see
 * producer/event-signature.ts). A good event is remembered by id (a redelivery is accepted and
 * ignored), matched against the rules on everything but the group's display name, and queued as
 * an event job; a worker finishes the match and makes the rollout. Nothing here calls Graph, so
 * the answer comes at once.
 */
export async function registerEventRoutes(
  app: FastifyInstance,
  deps: ServerDeps,
  rules: readonly EventRule[],
): Promise<void> {
  const { config, redis, keys, eventMetrics: metrics } = deps;
  await app.register(async (scope) => {
    rawBodies(scope, config.eventsMaxBodyBytes);
    scope.setErrorHandler(async (error: { statusCode?: number; message: string }, _request, reply) => {
      if (error.statusCode === 413)
        return reject(
          reply,
          413,
          'too-large',
          `body too large (EVENTS_MAX_BODY_BYTES is ${config.eventsMaxBodyBytes})`,
        );
      if (error.statusCode && error.statusCode < 500)
        return reply.code(error.statusCode).send({ error: error.message });
      deps.logger.error({ err: error }, 'event intake failed');
      return reply.code(503).send({ error: 'could not queue the event; send it again' });
    });

    const reject = (reply: FastifyReply, status: number, reason: EventRejection, message: string) => {
      metrics.rejected('events', reason);
      return reply.code(status).send({ error: message });
    };

    scope.post('/events', async (request, reply) => {
      metrics.received('events');
      if (!config.eventsHmacSecret)
        return reject(reply, 503, 'not-configured', 'event intake is off: EVENTS_HMAC_SECRET is not set');
      const raw = rawBodyOf(request.body);
      const header = (name: string) => {
        const v = request.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const signed = verifyEventSignature({
        secret: config.eventsHmacSecret,
        timestamp: header('x-signature-timestamp'),
        signature: header('x-signature'),
        rawBody: raw,
        nowMs: Date.now(),
      });
      if (!signed.ok) {
        const message =
          signed.reason === 'stale'
            ? 'stale timestamp (more than 5 minutes off)'
            : signed.reason === 'missing'
              ? 'missing X-Signature or X-Signature-Timestamp'
              : 'bad signature';
        return reject(reply, 401, signed.reason === 'stale' ? 'stale' : 'bad-signature', message);
      }
      const json = parseJson(raw);
      if (json === null) return reject(reply, 400, 'bad-payload', 'body is not JSON');
      const parsed = parseAssignmentEvent(json);
      if (!parsed.ok) return reject(reply, 400, 'bad-payload', parsed.reason);

      const event: AssignmentEvent = { ...parsed.event, source: 'events', receivedAt: new Date().toISOString() };
      const seenKey = keys.seenEvent(event.id);
      if ((await redis.set(seenKey, event.receivedAt, 'EX', SEEN_TTL_SECONDS, 'NX')) !== 'OK') {
        metrics.duplicate('events', 'replayed');
        return reply.code(200).send({ id: event.id, status: 'duplicate' });
      }
      const matched = candidateRules(rules, event);
      try {
        if (matched.length === 0) {
          metrics.accepted('events');
          return reply.code(202).send({ id: event.id, status: 'accepted', rules: [] });
        }
        const { debounced } = await enqueueEvent(deps.queues.events, { event, rules: matched }, config.eventDebounceMs);
        if (debounced) metrics.duplicate('events', 'debounced');
        metrics.accepted('events');
        return reply.code(202).send({ id: event.id, status: 'accepted', rules: matched.map((r) => r.name) });
      } catch (err) {
        // Not queued: forget the id so the sender's retry is not taken for a duplicate.
        await redis.del(seenKey).catch(() => undefined);
        throw err;
      }
    });
  });
}

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { candidateRules } from '../producer/event-rules.js';
import type { EventRule } from '../lib/queues/event-rule.js';
import { enqueueEvent, type AssignmentEvent } from '../lib/queues/event-queue.js';
import type { ServerDeps } from './server-deps.js';
import { parseJson, rawBodies, rawBodyOf } from './raw-body.js';

/** The change types that can bring a group into a rule's reach; `deleted` cannot. */
const CHANGE_TYPES = new Set(['created', 'updated']);

interface Notification {
  subscriptionId?: unknown;
  changeType?: unknown;
  resource?: unknown;
  resourceData?: { id?: unknown; organizationId?: unknown };
  clientState?: unknown;
  tenantId?: unknown;
  lifecycleEvent?: unknown;
}

/**
 * `POST /webhooks/graph`: Microsoft Graph change notifications for groups.
 *
 * - The subscription handshake (`?validationToken=…`) is answered with the token as text/plain.
 * - Each notification's clientState must equal GRAPH_WEBHOOK_CLIENT_STATE; others are dropped and
 *   counted (they are not from our subscription).
 * - A created or updated group becomes an event (`group.created` / `group.updated`) queued for the
 *   workers, which read the group (through the tenant's lane) and apply the same rules as for
 *   `POST /events`. Graph wants an answer within seconds, so nothing here calls Graph: 202 at once.
 */
export async function registerGraphWebhookRoutes(
  app: FastifyInstance,
  deps: ServerDeps,
  rules: readonly EventRule[],
): Promise<void> {
  const { config, eventMetrics: metrics } = deps;
  const expected = config.graphWebhookClientState ? Buffer.from(config.graphWebhookClientState) : null;
  await app.register(async (scope) => {
    rawBodies(scope, config.eventsMaxBodyBytes);
    scope.setErrorHandler(async (error: { statusCode?: number; message: string }, _request, reply) => {
      if (error.statusCode === 413) {
        metrics.rejected('graph-webhook', 'too-large');
        return reply
          .code(413)
          .send({ error: `body too large (EVENTS_MAX_BODY_BYTES is ${config.eventsMaxBodyBytes})` });
      }
      if (error.statusCode && error.statusCode < 500)
        return reply.code(error.statusCode).send({ error: error.message });
      deps.logger.error({ err: error }, 'Graph notification intake failed');
      // Graph redelivers on 5xx.
      return reply.code(503).send({ error: 'could not queue the notifications' });
    });

    const bad = (reply: FastifyReply, message: string) => {
      metrics.rejected('graph-webhook', 'bad-payload');
      return reply.code(400).send({ error: message });
    };

    scope.post('/webhooks/graph', async (request, reply) => {
      const token = (request.query as Record<string, unknown>).validationToken;
      if (typeof token === 'string') {
        // Graph checks the echo within 10 seconds before it creates the subscription.
        return reply.code(200).type('text/plain; charset=utf-8').send(token);
      }
      if (!expected) {
        metrics.rejected('graph-webhook', 'not-configured');
        return reply.code(503).send({ error: 'Graph webhook is off: GRAPH_WEBHOOK_CLIENT_STATE is not set' });
      }
      const body = parseJson(rawBodyOf(request.body)) as { value?: unknown } | null;
      if (!body || typeof body !== 'object' || !Array.isArray(body.value))
        return bad(reply, 'expected {"value": [notifications]}');

      let queued = 0;
      for (const n of body.value as Notification[]) {
        metrics.received('graph-webhook');
        if (!n || typeof n !== 'object') {
          metrics.rejected('graph-webhook', 'bad-payload');
          continue;
        }
        if (typeof n.clientState !== 'string' || !sameSecret(n.clientState, expected)) {
          metrics.rejected('graph-webhook', 'client-state');
          deps.logger.warn({ subscriptionId: n.subscriptionId }, 'Graph notification with a wrong clientState dropped');
          continue;
        }
        const event = eventOf(n, config.tenantId);
        if (!event) {
          // Lifecycle notifications, deleted groups, other resources: nothing to assign.
          metrics.accepted('graph-webhook');
          continue;
        }
        const matched = candidateRules(rules, event);
        metrics.accepted('graph-webhook');
        if (matched.length === 0) continue;
        const { debounced } = await enqueueEvent(deps.queues.events, { event, rules: matched }, config.eventDebounceMs);
        if (debounced) metrics.duplicate('graph-webhook', 'debounced');
        queued++;
      }
      return reply.code(202).send({ status: 'accepted', queued });
    });
  });
}

function sameSecret(given: string, expected: Buffer): boolean {
  const g = Buffer.from(given);
  return g.length === expected.length && timingSafeEqual(g, expected);
}

/** The group event a notification stands for, or null when it is not about a created or updated group. */
function eventOf(n: Notification, defaultTenantId: string | undefined): AssignmentEvent | null {
  if (n.lifecycleEvent !== undefined || typeof n.changeType !== 'string') return null;
  const changeType = n.changeType
    .split(',')
    .map((c) => c.trim())
    .find((c) => CHANGE_TYPES.has(c));
  if (!changeType) return null;
  const fromResource =
    typeof n.resource === 'string' ? /^groups[/(']+([0-9a-fA-F-]{36})/i.exec(n.resource)?.[1] : undefined;
  const groupId = typeof n.resourceData?.id === 'string' ? n.resourceData.id : fromResource;
  const tenant =
    typeof n.tenantId === 'string'
      ? n.tenantId
      : typeof n.resourceData?.organizationId === 'string'
        ? n.resourceData.organizationId
        : defaultTenantId;
  if (!groupId || !isObjectId(groupId) || !tenant || !isObjectId(tenant)) return null;
  const receivedAt = new Date().toISOString();
  const group = normalizeObjectId(groupId);
  return {
    id: `graph-${changeType}-${group}-${Date.parse(receivedAt)}`,
    type: `group.${changeType}`,
    tenantId: normalizeObjectId(tenant),
    groupId: group,
    attributes: {},
    source: 'graph-webhook',
    receivedAt,
  };
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import type { ServerDeps } from '../server-deps.js';
import { retryRollout } from '../../lib/rollout/retry-rollout.js';
import { UserError } from '../../lib/errors/user-error.js';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { TenantLanes } from '../../lib/lanes/tenant-lanes.js';
import { registerDashboardAuth, wantsHtml } from './dashboard-auth.js';
import { refuseCrossSiteWrites } from './same-origin.js';
import { sendPage } from './dashboard-page.js';
import { html } from './html.js';
import { setFlash, takeFlash } from './flash.js';
import { failedRows, rolloutView } from './rollout-view.js';
import { notFoundBody, rolloutBody, rolloutPath, rolloutsListBody } from './rollout-pages.js';
import { ROLLOUT_POLL_SCRIPT } from './rollout-poll-script.js';
import { registerBullBoard } from './bull-board.js';

/** The list page shows this many rollouts; `assignments list --limit 1000` goes further. */
const LIST_LIMIT = 200;

/** Longer than any id we hand out; anything longer is not a rollout and not worth a Redis call. */
const MAX_ID_LENGTH = 200;

type RolloutRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * `GET /ui`: the rollouts, one rollout's progress, lanes and failed rows with a retry button, and
 * Bull Board at /ui/queues. Everything lives in one plugin scope under /ui, so the login, the
 * cross-site check and the headers below cover every route of it, Bull Board's included, and
 * nothing outside it.
 */
export async function registerDashboard(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { store, config } = deps;
  const lanes = new TenantLanes(deps.redis, deps.keys, config.rateLimit);
  const logout = Boolean(config.dashboardToken);

  await app.register(
    async (scope) => {
      await scope.register(fastifyCookie);
      await scope.register(fastifyFormbody);
      refuseCrossSiteWrites(scope);
      registerDashboardAuth(scope, config.dashboardToken);
      scope.addHook('onSend', async (_request, reply, payload) => {
        // The retry button must not be clickable from inside someone else's frame.
        reply
          .header('x-frame-options', 'DENY')
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'same-origin');
        return payload;
      });

      scope.get('/', async (_request, reply) => {
        const rollouts = await store.list(LIST_LIMIT);
        const body = html`${rolloutsListBody(rollouts, config.queuePrefix)}
${rollouts.length >= LIST_LIMIT && html`<p class="muted">The newest ${LIST_LIMIT}; <code>assignments list --limit 1000</code> shows more.</p>`}`;
        return sendPage(reply, { title: 'Rollouts', body, logout });
      });

      scope.get('/rollouts/:id', async (request: RolloutRequest, reply) => {
        const { id } = request.params;
        const view = id.length <= MAX_ID_LENGTH ? await rolloutView(store, lanes, id) : null;
        if (!view) return rolloutNotFound(reply, id);
        const failed = await failedRows(store, id, view.status.failed);
        return sendPage(reply, {
          title: view.status.name ?? id,
          body: rolloutBody({
            view,
            failed,
            flash: takeFlash(request, reply),
            intervalSource: config.rateLimit ? 'configured' : 'learned',
          }),
          script: view.status.state === 'running' ? ROLLOUT_POLL_SCRIPT : undefined,
          logout,
        });
      });

      scope.get('/api/rollouts/:id', async (request: RolloutRequest, reply) => {
        const { id } = request.params;
        const view = id.length <= MAX_ID_LENGTH ? await rolloutView(store, lanes, id) : null;
        if (!view)
          return reply
            .code(404)
            .send({ error: ErrorCodes.ROLLOUT_NOT_FOUND, message: `no rollout ${JSON.stringify(id)}` });
        return reply.header('cache-control', 'no-store').send(view);
      });

      // The CLI's `retry <id>`, the same code: failed rows only, each with a fresh attempt budget.
      scope.post('/rollouts/:id/retry', async (request: RolloutRequest, reply) => {
        const { id } = request.params;
        const browser = wantsHtml(request);
        try {
          const result = await retryRollout(id, 'failed', { store, queue: deps.queues.assignments });
          request.log.info(
            { rolloutId: id, retried: result.retried, retryNumber: result.retryNumber },
            'dashboard: retry',
          );
          if (!browser) return result;
          const rows = result.retried === 1 ? 'row' : 'rows';
          return setFlash(reply, {
            kind: 'ok',
            text: `Retry ${result.retryNumber}: ${result.retried} failed ${rows} re-enqueued.`,
          }).redirect(rolloutPath(id), 303);
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          if (err.code === ErrorCodes.ROLLOUT_NOT_FOUND) {
            return browser
              ? rolloutNotFound(reply, id)
              : reply.code(404).send({ error: err.code, message: err.message });
          }
          if (!browser) return reply.code(409).send({ error: err.code, message: err.message });
          return setFlash(reply, { kind: 'error', text: err.message }).redirect(rolloutPath(id), 303);
        }
      });

      await registerBullBoard(scope, [deps.queues.assignments, deps.queues.syncs, deps.queues.events]);

      scope.setNotFoundHandler((request, reply) => {
        if (!wantsHtml(request)) return reply.code(404).send({ error: 'not found' });
        return sendPage(
          reply,
          { title: 'Not found', body: notFoundBody('There is no dashboard page here.'), logout },
          404,
        );
      });

      scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
        // Fastify's own 4xx (an unparsable body, a wrong content type) stay what they are.
        if (err.statusCode !== undefined && err.statusCode < 500)
          return reply.code(err.statusCode).send({ error: 'bad request', message: err.message });
        request.log.error({ err, url: request.url.split('?')[0] }, 'dashboard: request failed');
        const message = 'The dashboard could not answer (see the server log). Is Redis up?';
        if (!wantsHtml(request)) return reply.code(500).send({ error: 'internal', message });
        return sendPage(
          reply,
          { title: 'Error', body: html`<h1>Something went wrong</h1><p>${message}</p>`, logout },
          500,
        );
      });

      function rolloutNotFound(reply: FastifyReply, id: string): FastifyReply {
        return sendPage(
          reply,
          {
            title: 'Not found',
            body: notFoundBody(
              `No rollout ${JSON.stringify(id)} within retention (QUEUE_PREFIX=${config.queuePrefix}).`,
            ),
            logout,
          },
          404,
        );
      }
    },
    { prefix: '/ui' },
  );
}

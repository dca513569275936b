import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';

export const QUEUES_PATH = '/ui/queues';

/**
 * Bull Board for our queues at /ui/queues, read-only: retrying, promoting or removing a job behind
 * the rollout store's back would break its counters (a row's outcome is written once, by its job);
 * `retry` and `cancel` are the ways to act on rows. Bull Board enforces read-only on the server.
 *
 * Registered inside the dashboard's scope, so its pages, API and static files pass the same login.
 */
export async function registerBullBoard(scope: FastifyInstance, queues: readonly Queue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  // A nested plugin sees only its own prefix, so the full path is set by hand.
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Queues',
        miscLinks: [{ text: 'Rollouts', url: '/ui' }],
        hideDocsLink: true,
      },
    },
  });
  await scope.register(async (board) => {
    board.addHook('onSend', async (_request, reply, payload) => {
      if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('text/html'))
        return payload;
      return withoutExternalFonts(payload);
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH.slice('/ui'.length) });
  });
}

/**
 * Bull Board's page links Google Fonts. Where the network is loopback only it just waits for a
 * timeout; elsewhere it tells Google who opens the dashboard. The UI falls back to system fonts.
 */
function withoutExternalFonts(page: string): string {
  return page.replace(/<link\b[^>]*\bhref="https:\/\/fonts\.(?:googleapis|gstatic)\.com[^"]*"[^>]*>/g, '');
}

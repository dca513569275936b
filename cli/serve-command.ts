import { Command } from 'commander';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { untilSignal } from './until-signal.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'run the operations server: POST /events, POST /webhooks/graph, /healthz, /readyz, /metrics, /ui (configured by the environment)',
    )
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { role: 'server' });
      // Loaded here: the server's modules (Fastify, Bull Board) would slow every other command's start.
      const { startServer } = await import('../server/server.js');
      const server = await startServer(config, logger);
      await untilSignal(logger, 'stopping the server', () => server.close());
    });
}

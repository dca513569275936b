import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startServer } from '../server/server.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the operations server: POST /events, POST /webhooks/graph, /healthz, /readyz, /metrics, /ui (configured by the environment)')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { role: 'server' });
      const server = await startServer(config, logger);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping the server');
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          server.close().then(resolve, (err: unknown) => {
            logger.error({ err }, 'error while stopping');
            resolve();
          });
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
      logger.flush();
    });
}

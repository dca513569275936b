import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startWorker } from '../../worker/worker-process.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('take rows off the queue and assign them through Graph (run as many as you like, anywhere)')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { role: 'worker' });
      const worker = await startWorker(config, logger);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping: no new rows; in-flight rows finish');
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          worker.stop().then(resolve, (err: unknown) => {
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

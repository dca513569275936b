import { Command } from 'commander';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { startWorker } from './worker-process.js';
import { untilSignal } from './until-signal.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('take rows off the queue and assign them through Graph (run as many as you like, anywhere)')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { role: 'worker' });
      const worker = await startWorker(config, logger);
      await untilSignal(logger, 'stopping: no new rows; in-flight rows finish', () => worker.stop());
    });
}

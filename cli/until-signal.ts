import type { Logger } from '../lib/logger.js';

/**
 * Keeps a long-running command (worker, serve) alive until SIGTERM or SIGINT, then runs `stop` once
 * and resolves. A second signal while stopping is ignored: `stop` has its own deadline.
 */
export async function untilSignal(logger: Logger, stopping: string, stop: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, stopping);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  logger.flush();
}

import { Command } from 'commander';
import { readRolloutFile } from '../../producer/rollout-file.js';
import { enqueueRollout } from '../../producer/enqueue-rollout.js';
import { loadConfig } from '../config.js';
import { openQueue } from '../queue.js';
import { RolloutStore } from '../rollout/rollout-store.js';
import { openClient } from './command-context.js';

export function enqueueCommand(): Command {
  return new Command('enqueue')
    .description('validate a CSV or JSON file of (configurationId, groupId, tenantId?) rows and enqueue it as a rollout')
    .argument('<file>', 'CSV with a header row, or a JSON array; - reads stdin')
    .option('--name <name>', 'a label for the rollout')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { name?: string; json?: boolean }) => {
      const config = loadConfig();
      // The whole file is validated before Redis is touched: a bad file changes nothing.
      const input = await readRolloutFile(file, { defaultTenantId: config.tenantId });
      const { redis } = await openClient();
      const queue = openQueue(redis, config.queuePrefix);
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const result = await enqueueRollout(input, { queue, store }, { name: options.name, source: file === '-' ? 'stdin' : file });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          process.stdout.write(
            `rollout ${result.rolloutId}: ${result.total} row${result.total === 1 ? '' : 's'} enqueued` +
              (result.duplicateRows ? ` (${result.duplicateRows} duplicate row${result.duplicateRows === 1 ? '' : 's'} dropped)` : '') +
              ` across ${result.tenants.length} tenant(s)\n` +
              `watch it:  assignments status ${result.rolloutId}\n`,
          );
        }
      } finally {
        await queue.close();
        await redis.quit();
      }
    });
}

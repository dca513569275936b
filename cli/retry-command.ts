import { Command, Option } from 'commander';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { retryRollout } from '../lib/rollout/retry-rollout.js';
import type { OutcomeKind } from '../lib/outcome.js';
import { openClient } from './command-context.js';

export function retryCommand(): Command {
  return new Command('retry')
    .description('re-enqueue the failed rows of a rollout with a fresh attempt budget (their history is kept)')
    .argument('<rolloutId>')
    .addOption(
      new Option('--outcome <outcome>', 'which rows to retry').choices(['failed', 'cancelled']).default('failed'),
    )
    .option('--json', 'print the result as JSON')
    .action(async (rolloutId: string, options: { outcome: OutcomeKind; json?: boolean }) => {
      const { config, redis } = await openClient();
      const queue = openQueue(redis, config.queuePrefix);
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const result = await retryRollout(rolloutId, options.outcome, { store, queue });
        process.stdout.write(
          options.json
            ? `${JSON.stringify(result)}\n`
            : `rollout ${rolloutId}: ${result.retried} ${result.outcome} row(s) re-enqueued (retry #${result.retryNumber})\nwatch it:  assignments status ${rolloutId} --watch\n`,
        );
      } finally {
        await queue.close();
        await redis.quit();
      }
    });
}

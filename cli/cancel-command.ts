import { Command } from 'commander';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { cancelRollout } from '../lib/rollout/cancel-rollout.js';
import { openClient } from './command-context.js';
import { TenantLanes } from '../lib/lanes/tenant-lanes.js';

export function cancelCommand(): Command {
  return new Command('cancel')
    .description('stop a running rollout: queued rows end as cancelled, rows in flight finish')
    .argument('<rolloutId>')
    .option('--json', 'print the result as JSON')
    .action(async (rolloutId: string, options: { json?: boolean }) => {
      const { config, redis } = await openClient();
      const queue = openQueue(redis, config.queuePrefix);
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const { removedJobs, ...result } = await cancelRollout(rolloutId, { redis, store, queue });
        const lanes = new TenantLanes(redis, store.keys, config.rateLimit);
        for (const [tenantId, jobs] of Object.entries(removedJobs)) await lanes.release(tenantId, jobs);
        process.stdout.write(
          options.json
            ? `${JSON.stringify(result)}\n`
            : `rollout ${rolloutId} cancelled: ${result.cancelled} queued row(s) cancelled, ${result.inFlight} in flight will finish\n`,
        );
      } finally {
        await queue.close();
        await redis.quit();
      }
    });
}

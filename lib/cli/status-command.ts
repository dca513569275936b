import { Command } from 'commander';
import { RolloutStore, type RolloutStatus } from '../rollout/rollout-store.js';
import { UserError } from '../errors/user-error.js';
import { ErrorCodes } from '../errors/codes.js';
import { openClient } from './command-context.js';

export function statusCommand(): Command {
  return new Command('status')
    .description("a rollout's progress: total, pending, succeeded (created + already-assigned), failed")
    .argument('<rolloutId>')
    .option('--json', 'print as JSON')
    .action(async (rolloutId: string, options: { json?: boolean }) => {
      const { config, redis } = await openClient();
      try {
        const status = await new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs).status(rolloutId);
        if (!status) throw new UserError(ErrorCodes.ROLLOUT_NOT_FOUND, `no rollout ${JSON.stringify(rolloutId)} (QUEUE_PREFIX=${config.queuePrefix})`);
        process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
      } finally {
        await redis.quit();
      }
    });
}

export function formatStatus(s: RolloutStatus): string {
  return [
    `rollout   ${s.rolloutId}${s.name ? ` (${s.name})` : ''}`,
    `state     ${s.state}${s.finishedAt ? ` at ${s.finishedAt}` : ''}`,
    `total     ${s.total}`,
    `pending   ${s.pending}`,
    `succeeded ${s.succeeded} (created ${s.created}, already assigned ${s.alreadyAssigned})`,
    `failed    ${s.failed}`,
    '',
  ].join('\n');
}

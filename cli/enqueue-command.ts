import { Command } from 'commander';
import { scanRolloutFile } from '../producer/rollout-scan.js';
import { enqueueScannedRollout } from '../producer/enqueue-rollout.js';
import { loadConfig } from '../lib/config.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { openClient } from './command-context.js';
import { runDryRun } from './dry-run-output.js';
import { watchRollout, watchExitCode } from './rollout-watch.js';

export function enqueueCommand(): Command {
  return new Command('enqueue')
    .description(
      'validate a CSV or JSON file of (configurationId, groupId, tenantId?) rows and enqueue it as a rollout',
    )
    .argument('<file>', 'CSV with a header row, or a JSON array; - reads stdin')
    .option('--name <name>', 'a label for the rollout')
    .option('--json', 'print the result as JSON')
    .option('--dry-run', 'validate and show what would happen; write nothing')
    .option('--wait', 'watch the rollout until it ends; exit 0 if no row failed, 1 if some did')
    .action(async (file: string, options: { name?: string; json?: boolean; dryRun?: boolean; wait?: boolean }) => {
      if (options.dryRun) {
        process.exitCode = await runDryRun(file, { json: options.json });
        return;
      }
      const config = loadConfig();
      // The whole file is validated before Redis is touched: a bad file changes nothing. The scan
      // keeps the unique rows packed, so 100,000 rows cost megabytes, not hundreds of them.
      const scan = await scanRolloutFile(file, { defaultTenantId: config.tenantId });
      const { redis } = await openClient();
      const queue = openQueue(redis, config.queuePrefix);
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const result = await enqueueScannedRollout(
          scan,
          { queue, store },
          { name: options.name, source: file === '-' ? 'stdin' : file },
        );
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          process.stdout.write(
            `rollout ${result.rolloutId}: ${result.total} row${result.total === 1 ? '' : 's'} enqueued` +
              (result.duplicateRows
                ? ` (${result.duplicateRows} duplicate row${result.duplicateRows === 1 ? '' : 's'} dropped)`
                : '') +
              ` across ${result.tenants.length} tenant(s)\n` +
              (options.wait ? '' : `watch it:  assignments status ${result.rolloutId} --watch\n`),
          );
        }
        if (options.wait) {
          // With --json, stdout keeps only the result line; the progress goes to stderr.
          const watched = await watchRollout(store, result.rolloutId, {
            out: options.json ? process.stderr : process.stdout,
          });
          process.exitCode = watchExitCode(watched);
        }
      } finally {
        await queue.close();
        await redis.quit();
      }
    });
}

import { Command, InvalidArgumentError } from 'commander';
import { RolloutStore, type RolloutStatus } from '../lib/rollout/rollout-store.js';
import { openClient } from './command-context.js';
import { formatTable, type TableColumn } from './text-table.js';
import { hasDeletes } from '../lib/rollout/progress-text.js';

/** A rollout as `list` shows it: the status without the per-tenant detail (that is `status`'s). */
export type RolloutSummary = Omit<RolloutStatus, 'tenants'>;

export function listCommand(): Command {
  return new Command('list')
    .description('rollouts within retention, newest first: name, created time, totals per outcome, state')
    .option('--json', 'print a JSON array, one rollout per line')
    .option('--limit <n>', 'at most this many rollouts (1-1000)', parseLimit, 100)
    .action(async (options: { json?: boolean; limit: number }) => {
      const { config, redis } = await openClient();
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const rollouts = (await store.list(options.limit)).map(toSummary);
        if (options.json) {
          process.stdout.write(
            rollouts.length === 0 ? '[]\n' : `[\n${rollouts.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`,
          );
        } else if (rollouts.length === 0) {
          process.stdout.write(`no rollouts (QUEUE_PREFIX=${config.queuePrefix})\n`);
        } else {
          // The delete counts get columns only when some rollout listed has delete rows.
          process.stdout.write(
            formatTable(rollouts.some(hasDeletes) ? LIST_COLUMNS_WITH_DELETES : LIST_COLUMNS, rollouts),
          );
        }
      } finally {
        await redis.quit();
      }
    });
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  return n;
}

/**
 * `RolloutStore.list` leaves each tenant's `pausedUntil` unread (null), so its `tenants` would claim
 * every lane open: it is left out rather than shown half-true.
 */
function toSummary(s: RolloutStatus): RolloutSummary {
  const { tenants: _tenants, ...summary } = s;
  return summary;
}

const count = (header: string, value: (r: RolloutSummary) => number): TableColumn<RolloutSummary> => ({
  header,
  align: 'right',
  value: (r) => String(value(r)),
});

const LIST_COLUMNS: TableColumn<RolloutSummary>[] = [
  { header: 'rollout', value: (r) => r.rolloutId },
  { header: 'name', width: 32, value: (r) => r.name ?? '-' },
  // to the second: 2026-11-29T06:23:12Z
  { header: 'created at', value: (r) => r.createdAt.replace(/\.\d+Z$/, 'Z') },
  { header: 'state', value: (r) => r.state },
  count('total', (r) => r.total),
  count('pending', (r) => r.pending),
  count('created', (r) => r.created),
  count('already', (r) => r.alreadyAssigned),
  count('failed', (r) => r.failed),
  count('cancelled', (r) => r.cancelled),
];

const LIST_COLUMNS_WITH_DELETES: TableColumn<RolloutSummary>[] = [
  ...LIST_COLUMNS.slice(0, 8),
  count('deleted', (r) => r.deleted),
  count('already deleted', (r) => r.alreadyDeleted),
  ...LIST_COLUMNS.slice(8),
];

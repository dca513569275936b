import { Command } from 'commander';
import { RolloutStore, type RolloutStatus, type TenantProgress } from '../lib/rollout/rollout-store.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { openClient } from './command-context.js';
import { watchExitCode, watchRollout } from './rollout-watch.js';
import { formatTable, type TableColumn } from './text-table.js';
import { hasDeletes } from '../lib/rollout/progress-text.js';

export function statusCommand(): Command {
  return new Command('status')
    .description("a rollout's progress per outcome and per tenant; --watch follows it to the end")
    .argument('<rolloutId>')
    .option('--json', 'print as JSON (with --watch: progress on stderr, the final status as JSON on stdout)')
    .option(
      '--watch',
      'follow the rollout until it ends; exit 0 if no row failed, 1 if some did, 130 on Ctrl-C (the rollout goes on)',
    )
    .action(async (rolloutId: string, options: { json?: boolean; watch?: boolean }) => {
      const { config, redis } = await openClient();
      try {
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        let status = await store.status(rolloutId);
        if (!status)
          throw new UserError(
            ErrorCodes.ROLLOUT_NOT_FOUND,
            `no rollout ${JSON.stringify(rolloutId)} (QUEUE_PREFIX=${config.queuePrefix})`,
          );
        if (options.watch) {
          const result = await watchRollout(store, rolloutId, { out: options.json ? process.stderr : process.stdout });
          status = result.status;
          process.exitCode = watchExitCode(result);
          if (!options.json) return;
        }
        process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
      } finally {
        await redis.quit();
      }
    });
}

export function formatStatus(s: RolloutStatus): string {
  const when = s.state === 'cancelled' ? s.cancelledAt : s.finishedAt;
  const lines = [
    `rollout   ${s.rolloutId}${s.name ? ` (${s.name})` : ''}`,
    `created   ${s.createdAt} from ${s.source}`,
    `state     ${s.state}${when ? ` at ${when}` : ''}`,
    `total     ${s.total}`,
    `pending   ${s.pending}`,
    `succeeded ${s.succeeded} (created ${s.created}, already assigned ${s.alreadyAssigned}${hasDeletes(s) ? `, deleted ${s.deleted}, already deleted ${s.alreadyDeleted}` : ''})`,
    `failed    ${s.failed}`,
    `cancelled ${s.cancelled}`,
  ];
  if (s.retries > 0) lines.push(`retries   ${s.retries}`);
  return `${lines.join('\n')}\n\n${formatTable(hasDeletes(s) ? TENANT_COLUMNS_WITH_DELETES : TENANT_COLUMNS, s.tenants)}`;
}

const count = (header: string, value: (t: TenantProgress) => number): TableColumn<TenantProgress> => ({
  header,
  align: 'right',
  value: (t) => String(value(t)),
});

/** One line per tenant; `lane` says whether its lane is paused (after a 429/503) and until when. */
const TENANT_COLUMNS: TableColumn<TenantProgress>[] = [
  { header: 'tenant', value: (t) => t.tenantId },
  count('total', (t) => t.total),
  count('pending', (t) => t.pending),
  count('created', (t) => t.created),
  count('already', (t) => t.alreadyAssigned),
  count('failed', (t) => t.failed),
  count('cancelled', (t) => t.cancelled),
  { header: 'lane', value: (t) => (t.pausedUntil ? `paused until ${t.pausedUntil}` : 'open') },
];

/** The same, with the delete counts after `already`, for a rollout that has delete rows. */
const TENANT_COLUMNS_WITH_DELETES: TableColumn<TenantProgress>[] = [
  ...TENANT_COLUMNS.slice(0, 5),
  count('deleted', (t) => t.deleted),
  count('already deleted', (t) => t.alreadyDeleted),
  ...TENANT_COLUMNS.slice(5),
];

import { Command, InvalidArgumentError, Option } from 'commander';
import { readDesiredStateFile } from '../producer/desired-state-file.js';
import { DEFAULT_PRUNE_THRESHOLD_PERCENT } from '../producer/drift.js';
import type { SyncOptions } from '../lib/queues/sync-queue.js';
import { applySync, planSync, readDrift, type SyncPlan } from '../producer/desired-state-sync.js';
import { LaneAssignmentReader } from '../producer/lane-assignment-reader.js';
import { TenantLanes } from '../lib/lanes/tenant-lanes.js';
import { LaneBoundGraph } from '../lib/lanes/lane-bound-graph.js';
import { loadConfig, requireGraphCredentials } from '../lib/config.js';
import { connectGraph } from '../lib/graph/graph-connection.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RedisKeys } from '../lib/redis/redis-keys.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { openClient } from './command-context.js';
import { formatDrift, syncExitCode, syncJson } from './drift-output.js';
import { watchExitCode, watchRollout } from './rollout-watch.js';

interface SyncCommandOptions {
  dryRun?: boolean;
  json?: boolean;
  prune?: boolean;
  force?: boolean;
  pruneThreshold: number;
  name?: string;
  wait?: boolean;
}

/** `--prune-threshold`: a percentage, 0 to 100. */
export function parsePercent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError(`expected a percentage from 0 to 100, got ${JSON.stringify(value)}`);
  return n;
}

export function pruneThresholdOption(): Option {
  return new Option(
    '--prune-threshold <percent>',
    "with --prune: refuse when more than this share of a configuration's assignments would be deleted",
  )
    .argParser(parsePercent)
    .default(DEFAULT_PRUNE_THRESHOLD_PERCENT);
}

export function syncCommand(): Command {
  return new Command('sync')
    .description(
      'make Intune match a desired-state file (YAML or JSON): read each configuration, show the drift, apply it as a rollout',
    )
    .argument('<file>', 'the desired state: tenants → configurations → groups')
    .option('--dry-run', 'read and print the drift; write nothing')
    .option('--json', 'print the drift (and the rollout) as JSON')
    .option('--prune', 'also delete extra and duplicate assignments')
    .option('--force', 'with --prune: prune even past the threshold')
    .addOption(pruneThresholdOption())
    .option('--name <name>', 'a label for the rollout')
    .option('--wait', 'watch the rollout until it ends; exit 0 if no row failed, 1 if some did')
    .action(async (file: string, options: SyncCommandOptions) => {
      const config = loadConfig();
      // The whole file is validated before Redis or Graph is touched: a bad file changes nothing.
      const { state: desired } = await readDesiredStateFile(file);
      requireGraphCredentials(config, 'for a sync (it reads from Graph)');
      const source = file === '-' ? 'stdin' : file;
      const syncOptions: SyncOptions = {
        prune: options.prune === true,
        force: options.force === true,
        pruneThresholdPercent: options.pruneThreshold,
      };
      const { redis } = await openClient();
      const queue = openQueue(redis, config.queuePrefix);
      try {
        // The reads pass the tenants' lanes in Redis, like the workers' writes: a sync does not
        // add a second, unpaced stream of requests to a tenant a rollout is already using.
        const lanes = new TenantLanes(redis, new RedisKeys(config.queuePrefix), config.rateLimit);
        const graph = new LaneBoundGraph(connectGraph(config, 16), lanes, config.retryBaseDelayMs);
        const reader = new LaneAssignmentReader(graph, {
          maxAttempts: config.retryMaxAttempts,
          baseDelayMs: config.retryBaseDelayMs,
        });
        const plan = planSync(await readDrift(desired, reader, graph.api.kind), syncOptions);
        const show = { ...syncOptions, dryRun: options.dryRun === true, source };

        if (options.dryRun) {
          process.stdout.write(
            options.json ? `${JSON.stringify(syncJson(plan, show, null))}\n` : formatDrift(plan, show),
          );
          process.exitCode = syncExitCode(plan);
          return;
        }
        if (plan.decision.kind === 'refused') {
          if (options.json) process.stdout.write(`${JSON.stringify(syncJson(plan, show, null))}\n`);
          throw refusal(plan, syncOptions);
        }
        const store = new RolloutStore(redis, config.queuePrefix, config.outcomeRetentionMs);
        const rollout = await applySync(
          plan,
          syncOptions,
          { queue, store },
          { name: options.name, source: `sync ${source}` },
        );
        if (options.json) {
          process.stdout.write(`${JSON.stringify(syncJson(plan, show, rollout))}\n`);
        } else {
          process.stdout.write(formatDrift(plan, show));
          process.stdout.write(
            rollout
              ? `\nrollout ${rollout.rolloutId}: ${appliedLine(plan)}\n${options.wait ? '' : `watch it:  assignments status ${rollout.rolloutId} --watch\n`}`
              : `\nno drift: nothing to write${plan.drift.summary.unreadable + plan.drift.summary.configurationNotFound ? ' for the configurations that were read' : ''}\n`,
          );
        }
        const readProblems = syncExitCode(plan);
        if (rollout && options.wait) {
          const watched = await watchRollout(store, rollout.rolloutId, {
            out: options.json ? process.stderr : process.stdout,
          });
          process.exitCode = Math.max(watchExitCode(watched), readProblems);
        } else {
          process.exitCode = readProblems;
        }
      } finally {
        await queue.close();
        await redis.quit();
      }
    });
}

function appliedLine(plan: SyncPlan): string {
  if (plan.decision.kind !== 'apply') return '';
  const { creates, deletes } = plan.decision;
  return `${creates} to create${deletes ? `, ${deletes} to delete` : ''} enqueued`;
}

/** The prune threshold was crossed: nothing was written; the error names each configuration. */
export function refusal(plan: SyncPlan, options: SyncOptions): UserError {
  const refused = plan.decision.kind === 'refused' ? plan.decision.refused : [];
  return new UserError(
    ErrorCodes.PRUNE_REFUSED,
    `prune refused: more than ${options.pruneThresholdPercent}% of the assignments of ${refused.length} configuration${refused.length === 1 ? '' : 's'} would be deleted; nothing was written (check the file; --force prunes anyway)`,
    2,
    refused.map(
      (c) =>
        `tenant ${c.tenantId} configuration ${c.configurationId}: would delete ${c.wouldDelete} of ${c.existingAssignments} assignments (${c.percent.toFixed(1).replace(/\.0$/, '')}%)`,
    ),
  );
}

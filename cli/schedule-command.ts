import { Command } from 'commander';
import { readDesiredStateFile } from '../producer/desired-state-file.js';
import { openSyncQueue } from '../lib/queues/sync-queue.js';
import {
  parseEvery,
  SyncSchedules,
  validateSchedule,
  type ScheduleInfo,
  type ScheduleTiming,
} from '../producer/sync-schedules.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { loadConfig } from '../lib/config.js';
import { openClient } from './command-context.js';
import { pruneThresholdOption } from './sync-command.js';
import { formatTable, type TableColumn } from './text-table.js';

interface AddOptions {
  cron?: string;
  tz?: string;
  every?: string;
  prune?: boolean;
  force?: boolean;
  pruneThreshold: number;
  json?: boolean;
}

export function scheduleCommand(): Command {
  const schedule = new Command('schedule').description(
    'desired-state syncs on a schedule, run by the workers; each run is a rollout',
  );

  schedule
    .command('add')
    .description('add (or replace) a scheduled sync; the file is read now and stored with the schedule')
    .argument('<name>', 'the schedule, e.g. nightly')
    .argument('<file>', 'the desired state (YAML or JSON)')
    .option('--cron <pattern>', 'when to run, e.g. "0 2 * * *" (02:00 daily); a sixth leading field counts seconds')
    .option('--tz <zone>', 'time zone of --cron, e.g. Europe/Berlin (default UTC)')
    .option('--every <duration>', 'run at a fixed interval instead, e.g. 10m, 1h')
    .option('--prune', 'also delete extra and duplicate assignments')
    .option('--force', 'with --prune: prune even past the threshold')
    .addOption(pruneThresholdOption())
    .option('--json', 'print the schedule as JSON')
    .action(async (name: string, file: string, options: AddOptions) => {
      const config = loadConfig();
      const timing = timingOf(options);
      validateSchedule(name, timing);
      // Validated and stored as it is now: a later edit of the file needs `schedule add` again.
      const { state: desired } = await readDesiredStateFile(file);
      const { redis } = await openClient();
      const queue = openSyncQueue(redis, config.queuePrefix);
      try {
        const info = await new SyncSchedules(redis, queue, config.queuePrefix).add(name, timing, {
          source: file === '-' ? 'stdin' : file,
          desired,
          prune: options.prune === true,
          force: options.force === true,
          pruneThresholdPercent: options.pruneThreshold,
        });
        process.stdout.write(
          options.json
            ? `${JSON.stringify(info)}\n`
            : `schedule ${info.name}: ${timingText(info)}, next run ${info.nextRunAt ?? 'unknown'}\n` +
                `stored ${info.source}: ${info.tenants} tenant(s), ${info.configurations} configuration(s), ${info.groups} group(s)${info.prune ? `; prune on (threshold ${info.pruneThresholdPercent}%${info.force ? ', forced' : ''})` : ''}\n` +
                `the workers (assignments worker) run it; a later edit of the file needs \`assignments schedule add ${info.name} …\` again\n`,
        );
      } finally {
        await queue.close();
        await redis.quit();
      }
    });

  schedule
    .command('list')
    .description('scheduled syncs: timing, next run, last run and its rollout')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { config, redis } = await openClient();
      const queue = openSyncQueue(redis, config.queuePrefix);
      try {
        const infos = await new SyncSchedules(redis, queue, config.queuePrefix).list();
        if (options.json) process.stdout.write(`${JSON.stringify(infos)}\n`);
        else
          process.stdout.write(
            infos.length === 0
              ? 'no schedules (add one: assignments schedule add <name> <file> --cron "<pattern>")\n'
              : formatTable(SCHEDULE_COLUMNS, infos),
          );
      } finally {
        await queue.close();
        await redis.quit();
      }
    });

  schedule
    .command('remove')
    .description('remove a scheduled sync (a run in progress finishes; its rollout stays)')
    .argument('<name>')
    .action(async (name: string) => {
      const { config, redis } = await openClient();
      const queue = openSyncQueue(redis, config.queuePrefix);
      try {
        await new SyncSchedules(redis, queue, config.queuePrefix).remove(name);
        process.stdout.write(`schedule ${name} removed\n`);
      } finally {
        await queue.close();
        await redis.quit();
      }
    });

  return schedule;
}

function timingOf(options: AddOptions): ScheduleTiming {
  if (options.cron !== undefined && options.every !== undefined)
    throw new UserError(ErrorCodes.USAGE, 'give --cron or --every, not both');
  if (options.every !== undefined) {
    if (options.tz !== undefined) throw new UserError(ErrorCodes.USAGE, '--tz goes with --cron, not --every');
    return { everyMs: parseEvery(options.every) };
  }
  if (options.cron === undefined)
    throw new UserError(
      ErrorCodes.USAGE,
      'when to run: --cron "<pattern>" (e.g. "0 2 * * *") or --every <duration> (e.g. 10m)',
    );
  return { cron: options.cron, tz: options.tz };
}

function timingText(s: ScheduleInfo): string {
  if (s.everyMs !== null && s.everyMs > 0) return `every ${durationText(s.everyMs)}`;
  return `cron "${s.cron ?? ''}"${s.tz ? ` (${s.tz})` : ' (UTC)'}`;
}

function durationText(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SCHEDULE_COLUMNS: TableColumn<ScheduleInfo>[] = [
  { header: 'name', value: (s) => s.name },
  { header: 'when', value: timingText },
  { header: 'next run', value: (s) => s.nextRunAt ?? '-' },
  { header: 'prune', value: (s) => (s.prune ? `yes (${s.pruneThresholdPercent}%${s.force ? ', forced' : ''})` : 'no') },
  { header: 'desired', value: (s) => `${s.source}: ${s.configurations} config, ${s.groups} groups` },
  { header: 'runs', align: 'right', value: (s) => String(s.runs) },
  {
    header: 'last run',
    value: (s) => (s.lastRun ? `${s.lastRun.at} ${s.lastRun.result}: ${s.lastRun.message}` : '-'),
    width: 100,
  },
];

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { loadConfig } from '../lib/config.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { redisAnswers, startLocalRedis, type LocalRedis } from '../lib/redis/local-redis.js';
import { startEmulator, type RunningEmulator } from '../emulator/emulator-server.js';
import { EmulatorControl } from '../emulator/control-client.js';
import { openQueue } from '../lib/queues/assignment-queue.js';
import { RolloutStore } from '../lib/rollout/rollout-store.js';
import { enqueueRollout } from '../producer/enqueue-rollout.js';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { writeReport } from './report-command.js';
import { redactedRedisUrl } from '../lib/redis/redis-connection.js';
import { INTERRUPTED_EXIT_CODE, watchRollout } from './rollout-watch.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

/**
 * A newcomer's first rollout, with every real part: Redis (the one at REDIS_URL, or a private one),
 * the emulator with throttling and faults on, two worker processes with MSAL and TLS, a live
 * progress bar, a CSV report, and a check against the emulator's truth. Cleans up after itself.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('a real rollout against the built-in emulator: throttling, faults, two workers, a report')
    .option('--rows <n>', 'groups per configuration (3 tenants x 2 configurations each)', '50')
    .action(async (options: { rows: string }) => {
      const perConfiguration = Math.max(1, Math.min(5000, Number(options.rows) || 50));
      const cleanup: (() => Promise<unknown>)[] = [];
      const say = (line: string) => process.stdout.write(`${line}\n`);
      try {
        await runDemo(perConfiguration, cleanup, say);
      } finally {
        for (const step of cleanup.reverse()) await step().catch(() => undefined);
      }
    });
}

async function runDemo(
  perConfiguration: number,
  cleanup: (() => Promise<unknown>)[],
  say: (line: string) => void,
): Promise<void> {
  const base = loadConfig();
  const workDir = mkdtempSync(join(tmpdir(), 'assignments-demo-'));

  let redisUrl = base.redisUrl;
  if (await redisAnswers(redisUrl)) {
    say(`redis     using ${redactedRedisUrl(redisUrl)}`);
  } else {
    const local: LocalRedis = await startLocalRedis();
    cleanup.push(() => local.stop());
    redisUrl = local.url;
    say(
      `redis     nothing answered at ${redactedRedisUrl(base.redisUrl)}; started a private redis-server at ${redisUrl}`,
    );
  }
  // A prefix of its own: the demo never touches another deployment's keys and removes its own.
  const prefix = `demo-${randomUUID().slice(0, 8)}`;

  const rateLimit = { max: 25, windowMs: 1000 };
  const emulator: RunningEmulator = await startEmulator({
    port: 0,
    certDir: join(workDir, 'emulator'),
    rateLimit,
    latencyMs: 5,
    slowCommitMs: 1000,
    faults: { serviceUnavailable: 0.02, internalError: 0.02, reset: 0.01, commitThenReset: 0.02, slowCommit: 0.02 },
  });
  cleanup.push(() => emulator.close());
  const control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  say(
    `emulator  ${emulator.origin} (Graph at ${emulator.graphBaseUrl}); ${rateLimit.max} writes/s per tenant, ~9% of POSTs fail on purpose`,
  );

  // Three tenants, two configurations each; a few groups are assigned already, a few rows repeat.
  // The configurations exist before the rollout, as in a real tenant: the emulator knows no others.
  const tenants = [randomUUID(), randomUUID(), randomUUID()];
  const rows: AssignmentRow[] = [];
  let preexisting = 0;
  for (const tenantId of tenants) {
    for (let c = 0; c < 2; c++) {
      const configurationId = randomUUID();
      await control.createConfiguration(tenantId, { id: configurationId, displayName: `Demo baseline ${c + 1}` });
      for (let g = 0; g < perConfiguration; g++) {
        const groupId = randomUUID();
        rows.push({ tenantId, configurationId, groupId });
        if (g % 17 === 3) {
          await control.createAssignment(tenantId, configurationId, groupId);
          preexisting++;
        }
      }
    }
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...emulator.env(tenants[0]),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    GRAPH_SETTLE_MS: '1500',
    RETRY_BASE_DELAY_MS: '500',
    GRAPH_TIMEOUT_MS: '5000',
    WORKER_CONCURRENCY: '8',
  };
  const workers: ChildProcess[] = [];
  for (let i = 1; i <= 2; i++) {
    const log = openSync(join(workDir, `worker-${i}.log`), 'a');
    const child = spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', log, log] });
    workers.push(child);
    cleanup.push(async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), sleep(30_000, undefined, { ref: false })]);
    });
  }
  say(`workers   2 processes (logs in ${workDir})`);

  const redis = connectRedis(redisUrl, 'client');
  cleanup.push(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    await redis.quit();
  });
  const queue = openQueue(redis, prefix);
  cleanup.push(() => queue.close());
  const store = new RolloutStore(redis, prefix, base.outcomeRetentionMs);
  const started = Date.now();
  const result = await enqueueRollout(
    { rows, lines: rows.map((_, i) => i + 2), inputRows: rows.length, duplicateRows: 0, format: 'csv' },
    { queue, store },
    { name: 'demo', source: 'demo' },
  );
  say(
    `rollout   ${result.rolloutId}: ${result.total} rows over ${tenants.length} tenants (${preexisting} groups already assigned in Intune)`,
  );

  const watched = await watchRollout(store, result.rolloutId, {
    resumeCommand: null, // the demo's Redis keys go away with it: there is nothing to watch again
    onPoll: () => {
      if (workers.every((w) => w.exitCode !== null)) throw new Error('both workers exited; see their logs');
    },
  });
  if (watched.interrupted) {
    process.exitCode = INTERRUPTED_EXIT_CODE;
    return;
  }
  const status = watched.status;
  const seconds = (Date.now() - started) / 1000;

  mkdirSync('reports', { recursive: true });
  const reportPath = resolve('reports', `${result.rolloutId}.csv`);
  const out = createWriteStream(reportPath);
  await writeReport(store, result.rolloutId, 'csv', out);
  out.end();
  await once(out, 'finish');

  const truth = await control.truth();
  const stats = await control.stats();
  const throttled = Object.values(stats.tenants).reduce((n, t) => n + t.throttled, 0);
  const faults = Object.values(stats.tenants).reduce(
    (n, t) => n + Object.values(t.faults).reduce((a, b) => a + b, 0),
    0,
  );
  say('');
  say(
    `finished in ${seconds.toFixed(1)} s (${(status.total / seconds).toFixed(1)} rows/s; the emulator allows ${rateLimit.max}/s per tenant)`,
  );
  say(`  created           ${status.created}`);
  say(`  already-assigned  ${status.alreadyAssigned}`);
  say(`  failed            ${status.failed}`);
  say(
    `graph     ${throttled} answers were 429 and ${faults} POSTs hit an injected fault; duplicates in the emulator: ${truth.duplicates}`,
  );
  say(`report    ${reportPath}`);
  say('');
  say('next: `assignments emulator --print-env` prints the environment to point your own workers at the emulator.');
}

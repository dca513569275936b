import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { openQueue, QUEUE_NAME } from '../lib/queues/assignment-queue.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { rowJobs } from '../producer/row-jobs.js';
import { peakRssProbe, type PeakRssProbe } from './peak-rss.js';
import { syntheticRows, writeRowsCsv } from './synthetic-rows.js';

const BIN = fileURLToPath(new URL('../../bin/assignments.js', import.meta.url));

export interface EnqueueThroughputResult {
  rows: number;
  /** Seconds per run of the baseline: raw queue.addBulk of the same jobs, chunks of 1000, in this process. */
  baselineSeconds: number[];
  /** Seconds per run of `assignments enqueue file.csv --json`, process start to exit. */
  cliSeconds: number[];
  /** Seconds per run of `assignments enqueue --help`: the CLI's start-up alone, for scale. */
  startupSeconds: number[];
  /** Peak RSS of each CLI run, bytes. */
  cliPeakRssBytes: number[];
  rssSource: string;
}

/**
 * `enqueue` against the fastest way to put the same jobs in the same Redis: a 100,000-row CSV through
 * the real CLI (a child process: start-up, validation pass, rollout record, row list, jobs) against
 * raw `queue.addBulk` of 100,000 equivalent jobs in chunks of 1000 from this process. Runs alternate
 * (baseline, CLI, baseline, CLI…) on a private redis-server that is flushed before each, so both see
 * the same empty Redis and the same machine load.
 */
export async function enqueueThroughput(options: {
  rows: number;
  repeats: number;
  rssProbe?: PeakRssProbe;
}): Promise<EnqueueThroughputResult> {
  const probe = options.rssProbe ?? peakRssProbe();
  const redisServer = await startLocalRedis();
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-enqueue-'));
  const redis = connectRedis(redisServer.url, 'client');
  const result: EnqueueThroughputResult = {
    rows: options.rows,
    baselineSeconds: [],
    cliSeconds: [],
    startupSeconds: [],
    cliPeakRssBytes: [],
    rssSource: probe.source,
  };
  try {
    const rows = syntheticRows(options.rows, { tenants: [randomUUID(), randomUUID()], configurations: 10 });
    const csv = join(dir, 'rollout.csv');
    await writeRowsCsv(csv, rows);
    for (let run = 0; run < options.repeats; run++) {
      await redis.flushall();
      result.baselineSeconds.push(await rawAddBulk(redis, rows));

      await redis.flushall();
      const prefix = `bench${randomUUID().slice(0, 8)}`;
      const env = { ...process.env, REDIS_URL: redisServer.url, QUEUE_PREFIX: prefix };
      const cli = await timed(probe.command, probe.args([BIN, 'enqueue', csv, '--json']), env);
      if (cli.code !== 0) throw new Error(`enqueue exited ${cli.code}: ${cli.stderr}`);
      const total = (JSON.parse(cli.stdout) as { total: number }).total;
      const waiting = await redis.llen(`${prefix}:${QUEUE_NAME}:wait`);
      if (total !== options.rows || waiting !== options.rows)
        throw new Error(`enqueue: total ${total}, ${waiting} jobs waiting; expected ${options.rows}`);
      const rss = probe.read(cli.stderr);
      if (rss === undefined)
        throw new Error(`no peak RSS in the CLI's stderr (${probe.source}): ${cli.stderr.slice(-500)}`);
      result.cliSeconds.push(cli.seconds);
      result.cliPeakRssBytes.push(rss);

      const help = await timed(process.execPath, [BIN, 'enqueue', '--help'], env);
      result.startupSeconds.push(help.seconds);
    }
    return result;
  } finally {
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The baseline: the same jobs `enqueue` adds (ids, data, options), by addBulk, 1000 at a time, nothing else. */
async function rawAddBulk(redis: Redis, rows: ReturnType<typeof syntheticRows>): Promise<number> {
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const queue = openQueue(redis, prefix);
  const rolloutId = randomUUID();
  try {
    await queue.waitUntilReady();
    const started = performance.now();
    for (let start = 0; start < rows.length; start += 1000) {
      await queue.addBulk(rowJobs(rolloutId, start, rows.slice(start, start + 1000)));
    }
    const seconds = (performance.now() - started) / 1000;
    const waiting = await redis.llen(`${prefix}:${QUEUE_NAME}:wait`);
    if (waiting !== rows.length) throw new Error(`baseline: ${waiting} jobs waiting, expected ${rows.length}`);
    return seconds;
  } finally {
    await queue.close();
  }
}

async function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

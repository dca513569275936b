import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { freePort, startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator/emulator-server.js';
import { EmulatorControl } from '../../emulator/control-client.js';
import type { AssignmentRow } from '../../lib/assignment-row.js';

export const BIN = resolve(import.meta.dirname, '../../bin/assignments.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface WorkerHandle {
  child: ChildProcess;
  /** Everything the worker wrote to stderr (its JSON log lines). */
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServerHandle extends WorkerHandle {
  url: string;
}

/**
 * A private stack for one test file: a redis-server of its own (or REDIS_URL when set, under a
 * fresh QUEUE_PREFIX), the emulator in this process, and the real CLI and worker processes.
 */
export interface Stack {
  redisUrl: string;
  prefix: string;
  redis: Redis;
  emulator: RunningEmulator;
  control: EmulatorControl;
  tenantId: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  cli(args: string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  worker(env?: NodeJS.ProcessEnv): Promise<WorkerHandle>;
  /** `assignments serve` on a free loopback port; `url` once it listens. */
  serve(env?: NodeJS.ProcessEnv): Promise<ServerHandle>;
  writeCsv(rows: AssignmentRow[], name?: string): string;
  waitFinished(rolloutId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface StackOptions {
  emulator?: EmulatorOptions;
  env?: NodeJS.ProcessEnv;
}

/**
 * The usual set-up of a describe block: a stack started before its tests with `workers` worker
 * processes, stopped after them. The stack only exists once `beforeAll` has run, so what this returns
 * stands in for it and hands every property access on to it (an access before then is a test bug and
 * throws).
 */
export function useStack(options: StackOptions = {}, setup: { workers?: number } = {}): Stack {
  let started: Stack | undefined;
  beforeAll(async () => {
    started = await startStack(options);
    for (let i = 0; i < (setup.workers ?? 0); i++) await started.worker();
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as Stack, {
    get(_target, property) {
      if (!started) throw new Error(`the stack is not started yet (stack.${String(property)} read outside a test)`);
      const value: unknown = started[property as keyof Stack];
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  let local: LocalRedis | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    local = await startLocalRedis();
    redisUrl = local.url;
  }
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'assignments-test-'));
  const emulator = await startEmulator({ port: 0, certDir: join(dir, 'emulator'), ...options.emulator });
  const control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  const tenantId = randomUUID();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...emulator.env(tenantId),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
    GRAPH_TIMEOUT_MS: '3000',
    GRAPH_SETTLE_MS: '1000',
    RETRY_BASE_DELAY_MS: '200',
    WORKER_LOCK_MS: '4000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    WORKER_CONCURRENCY: '8',
    ...options.env,
  };
  const workers: WorkerHandle[] = [];

  const cli: Stack['cli'] = (args, o = {}) =>
    new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...env, ...o.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
      child.stdin.end(o.input ?? '');
    });

  /**
   * A CLI process that runs until stopped, ready once its log says `ready` (its first work is not raced by the test).
   */
  const longRunning = async (args: string[], processEnv: NodeJS.ProcessEnv, ready: string): Promise<WorkerHandle> => {
    const child = spawn(process.execPath, [BIN, ...args], { env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    for (let i = 0; i < 300 && !logs.includes(ready); i++) {
      if (child.exitCode !== null) throw new Error(`${args[0]} exited at start: ${logs}`);
      await sleep(50);
    }
    if (!logs.includes(ready)) throw new Error(`${args[0]} did not start: ${logs}`);
    const handle: WorkerHandle = {
      child,
      logs: () => logs,
      async stop(signal = 'SIGTERM') {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill(signal);
        const [code] = (await once(child, 'exit')) as [number | null];
        return code;
      },
    };
    workers.push(handle);
    return handle;
  };

  const worker: Stack['worker'] = (extra = {}) => longRunning(['worker'], { ...env, ...extra }, 'worker started');

  const serve: Stack['serve'] = async (extra = {}) => {
    const port = await freePort();
    const handle = await longRunning(
      ['serve'],
      { ...env, SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port), ...extra },
      'server listening',
    );
    return { ...handle, url: `http://127.0.0.1:${port}` };
  };

  return {
    redisUrl,
    prefix,
    redis,
    emulator,
    control,
    tenantId,
    dir,
    env,
    cli,
    worker,
    serve,
    writeCsv(rows, name = `rollout-${randomUUID().slice(0, 6)}.csv`) {
      const path = join(dir, name);
      writeFileSync(
        path,
        [
          'tenantId,configurationId,groupId',
          ...rows.map((r) => `${r.tenantId},${r.configurationId},${r.groupId}`),
        ].join('\n') + '\n',
      );
      return path;
    },
    async waitFinished(rolloutId, timeoutMs = 90_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const h = await redis.hgetall(`${prefix}:rollout:${rolloutId}`);
        const done = ['created', 'alreadyAssigned', 'deleted', 'alreadyDeleted', 'failed', 'cancelled'].reduce(
          (n, c) => n + Number(h[c] ?? 0),
          0,
        );
        if (h.total && done >= Number(h.total)) return h;
        if (Date.now() > until) {
          // What the processes were doing, for a failure seen only on a loaded CI machine.
          const tails = workers
            .map((w, i) => `--- process ${i} (exit ${String(w.child.exitCode)}) ---\n${w.logs().slice(-3000)}`)
            .join('\n');
          throw new Error(`rollout ${rolloutId} not finished after ${timeoutMs} ms: ${JSON.stringify(h)}\n${tails}`);
        }
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      if (!local) {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
      }
      redis.disconnect();
      await emulator.close();
      await local?.stop();
    },
  };
}

/** Rows for `tenants` tenants x `configurations` configurations x `groups` groups, fresh GUIDs. */
export function makeRows(tenants: string[], configurations: number, groups: number): AssignmentRow[] {
  const rows: AssignmentRow[] = [];
  for (const tenantId of tenants) {
    for (let c = 0; c < configurations; c++) {
      const configurationId = randomUUID();
      for (let g = 0; g < groups; g++) rows.push({ tenantId, configurationId, groupId: randomUUID() });
    }
  }
  return rows;
}

/** Parses `enqueue --json` output. */
export function rolloutIdOf(result: CliResult): string {
  if (result.code !== 0) throw new Error(`enqueue failed (${result.code}): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { rolloutId: string }).rolloutId;
}

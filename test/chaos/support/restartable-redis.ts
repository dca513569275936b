import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../../../lib/redis/local-redis.js';

/**
 * A redis-server that can be stopped and started again on the same port and data directory, with
 * AOF on, so a restart keeps what was acknowledged: the production setup the README asks for
 * (`appendonly yes`, `noeviction`). startLocalRedis keeps nothing on disk and picks a new port each
 * time, so it cannot model a restart.
 */
export interface RestartableRedis {
  url: string;
  port: number;
  dir: string;
  running(): boolean;
  /** SIGTERM is a clean shutdown (the AOF is flushed); SIGKILL is a crash. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it answers PING (the AOF loaded). */
  start(): Promise<void>;
  /** redis-server's own log, every run of it. */
  logs(): string;
}

export interface RestartableRedisOptions {
  /**
   * `always` makes every acknowledged write survive a SIGKILL; `everysec` (Redis's default) may lose the last second.
   */
  appendfsync?: 'always' | 'everysec';
}

export async function startRestartableRedis(options: RestartableRedisOptions = {}): Promise<RestartableRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chaos-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ];
  let child: ChildProcess | undefined;
  let logs = '';

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null)
      throw new Error('redis-server is already running');
    const next = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    next.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    next.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    child = next;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      for (let i = 0; ; i++) {
        try {
          await probe.connect();
          // PING answers LOADING while the AOF is replayed.
          if ((await probe.ping()) === 'PONG') return;
        } catch (error) {
          if (i > 400 || next.exitCode !== null) {
            next.kill('SIGKILL');
            throw new Error(
              `redis-server did not start on port ${port}: ${(error as Error).message}\n${logs.slice(-2000)}`,
              { cause: error },
            );
          }
          probe.disconnect();
          await sleep(25);
        }
      }
    } finally {
      probe.disconnect();
    }
  };

  await start();
  return {
    url,
    port,
    dir,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async stop(signal = 'SIGTERM') {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = once(current, 'exit');
      current.kill(signal);
      await Promise.race([exited, sleep(10_000)]);
      if (current.exitCode === null && current.signalCode === null) {
        current.kill('SIGKILL');
        await exited;
      }
    },
    start,
    logs: () => logs,
  };
}

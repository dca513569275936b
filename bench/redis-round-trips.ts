import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startEmulator } from '../emulator/emulator-server.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { redisInfo } from './redis-info.js';
import { syntheticRows } from './synthetic-rows.js';
import { timedRollout } from './timed-rollout.js';

/** One client command (as MONITOR sees it, outside Lua) per row: EVALSHA named by the keys it touches. */
export interface CommandShare {
  command: string;
  perRow: number;
}

export interface RoundTripsResult {
  rows: number;
  tenants: number;
  configurationsPerTenant: number;
  processes: number;
  concurrency: number;
  seconds: number;
  /** INFO commandstats delta / rows: every command Redis ran, those inside Lua scripts included. */
  commandsPerRow: number;
  /**
   * MONITOR, commands sent by clients (not those a script ran) / rows: the round trips, pipelines counted per
   * command.
   */
  clientCommandsPerRow: number;
  /** MONITOR, per command (EVALSHA by the shape of its first key), per row. */
  byCommand: CommandShare[];
  /** INFO commandstats delta / rows by command. */
  statsByCommand: CommandShare[];
  duplicates: number;
  failed: number;
}

/**
 * Redis work per row of a fault-free rollout: INFO commandstats before and after (everything Redis
 * executed), and MONITOR during the run to see what the workers send (a Lua script is one round trip
 * however many commands it runs). The emulator answers at once, without a limit, so no row waits for
 * its lane or retries: this is the cost of the happy path. The benchmark's own status polling goes
 * through a separate connection whose commands are left out.
 */
export async function redisRoundTrips(options: {
  rows: number;
  tenants: number;
  configurations: number;
  processes: number;
  concurrency: number;
}): Promise<RoundTripsResult> {
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  await redis.client('SETNAME', 'bench');
  const monitorClient = new Redis(redisServer.url, { lazyConnect: true });
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-roundtrips-'));
  // Lenient: the synthetic rows' configurations exist on first use, as when the committed results were measured.
  const emulator = await startEmulator({ port: 0, certDir: join(dir, 'emulator'), strictConfigurations: false });
  const benchAddr = await clientAddress(redis);
  const counts = new Map<string, number>();
  let clientCommands = 0;
  let counting = false;
  const monitor = await monitorClient.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!counting || source === 'lua' || source.endsWith(benchAddr)) return;
    clientCommands++;
    const name = describe(args);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  try {
    const tenants = Array.from({ length: options.tenants }, () => randomUUID());
    const rows = syntheticRows(options.rows, { tenants, configurations: options.configurations });
    const snapshot = async () => {
      const stats = new Map<string, number>();
      for (const [field, value] of await redisInfo(redis, 'commandstats'))
        stats.set(field.replace(/^cmdstat_/, ''), Number(/calls=(\d+)/.exec(value)?.[1] ?? 0));
      return stats;
    };
    const r = await timedRollout({
      redis,
      redisUrl: redisServer.url,
      emulator,
      rows,
      processes: options.processes,
      concurrency: options.concurrency,
      logDir: dir,
      snapshot: async () => {
        const s = await snapshot();
        counting = !counting;
        return s;
      },
    });
    const statsByCommand: CommandShare[] = [];
    let total = 0;
    for (const [command, after] of r.after!) {
      const delta = after - (r.before!.get(command) ?? 0);
      if (command === 'info' || delta <= 0) continue;
      total += delta;
      statsByCommand.push({ command, perRow: delta / options.rows });
    }
    rmSync(dir, { recursive: true, force: true });
    return {
      rows: options.rows,
      tenants: options.tenants,
      configurationsPerTenant: options.configurations,
      processes: options.processes,
      concurrency: options.concurrency,
      seconds: r.seconds,
      commandsPerRow: total / options.rows,
      clientCommandsPerRow: clientCommands / options.rows,
      byCommand: [...counts]
        .map(([command, n]) => ({ command, perRow: n / options.rows }))
        .sort((a, b) => b.perRow - a.perRow),
      statsByCommand: statsByCommand.sort((a, b) => b.perRow - a.perRow),
      duplicates: r.duplicates,
      failed: r.status.failed,
    };
  } finally {
    // monitor() opened a connection of its own.
    monitor.disconnect();
    monitorClient.disconnect();
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
  }
}

async function clientAddress(redis: Redis): Promise<string> {
  const info = (await redis.client('INFO')) as string;
  return /addr=(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/**
 * A command with its key's shape: `evalsha <p>:lane:<id>` for our lane script, `evalsha
 * <p>:assignments:wait` for one of BullMQ's, ids and prefixes replaced so equal shapes add up.
 */
function describe(args: string[]): string {
  const command = (args[0] ?? '').toLowerCase();
  const key = command === 'evalsha' || command === 'eval' ? (Number(args[2]) > 0 ? args[3] : undefined) : args[1];
  if (key === undefined || /^(client|info|ping|select|hello|script)$/.test(command)) return command;
  const shape = key
    .replace(/^bench[0-9a-f]+/, '<p>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/:\d+$/, ':<n>');
  return `${command} ${shape}${command === 'evalsha' ? ` (${args[1]!.slice(0, 8)})` : ''}`;
}

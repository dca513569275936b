import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../emulator/emulator-server.js';
import { startLocalRedis } from '../lib/redis/local-redis.js';
import { connectRedis } from '../lib/redis/redis-connection.js';
import { syntheticRows } from './synthetic-rows.js';
import { timedRollout } from './timed-rollout.js';

export interface LatencyRun {
  concurrency: number;
  seconds: number;
  rowsPerSecond: number;
  /** processes × concurrency / latency: every slot always waiting on a POST, nothing else. */
  idealRowsPerSecond: number;
  ratio: number;
  failed: number;
  duplicates: number;
}

export interface LatencyHidingResult {
  rows: number;
  tenants: number;
  configurationsPerTenant: number;
  processes: number;
  latencyMs: number;
  runs: LatencyRun[];
}

/**
 * Latency hiding: an emulator that answers every Graph request after `latencyMs`, without a limit.
 * A row is one POST, so with `processes × concurrency` rows in flight the best throughput is that
 * many per latency. Several tenants and configurations, as in a real rollout: each configuration's
 * first rows wait for its one shared listing read, and each tenant for its token.
 */
export async function latencyHiding(options: {
  rows: number;
  tenants: number;
  configurations: number;
  processes: number;
  concurrencies: number[];
  latencyMs: number;
}): Promise<LatencyHidingResult> {
  const redisServer = await startLocalRedis();
  const redis = connectRedis(redisServer.url, 'client');
  const dir = mkdtempSync(join(tmpdir(), 'assignments-bench-latency-'));
  const result: LatencyHidingResult = {
    rows: options.rows,
    tenants: options.tenants,
    configurationsPerTenant: options.configurations,
    processes: options.processes,
    latencyMs: options.latencyMs,
    runs: [],
  };
  try {
    for (const concurrency of options.concurrencies) {
      // Lenient: the synthetic rows' configurations exist on first use, as when the committed results were measured.
      const emulator = await startEmulator({
        port: 0,
        certDir: join(dir, 'emulator'),
        latencyMs: options.latencyMs,
        strictConfigurations: false,
      });
      try {
        const tenants = Array.from({ length: options.tenants }, () => randomUUID());
        const rows = syntheticRows(options.rows, { tenants, configurations: options.configurations });
        const r = await timedRollout({
          redis,
          redisUrl: redisServer.url,
          emulator,
          rows,
          processes: options.processes,
          concurrency,
          logDir: dir,
        });
        const ideal = (options.processes * concurrency) / (options.latencyMs / 1000);
        result.runs.push({
          concurrency,
          seconds: r.seconds,
          rowsPerSecond: options.rows / r.seconds,
          idealRowsPerSecond: ideal,
          ratio: options.rows / r.seconds / ideal,
          failed: r.status.failed,
          duplicates: r.duplicates,
        });
      } finally {
        await emulator.close();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    return result;
  } finally {
    redis.disconnect();
    await redisServer.stop();
  }
}

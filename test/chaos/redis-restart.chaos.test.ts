import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRows, type Stack } from '../support/stack.js';
import { enqueueRows, waitUntil } from '../support/rollout-checks.js';
import { startRestartableRedis, type RestartableRedis } from './support/restartable-redis.js';
import { chaosDice, chaosLog, expectRolloutWhole, startStackOn, waitForFraction } from './support/chaos-run.js';

/**
 * Redis goes away in the middle of a rollout and comes back with its AOF. The running workers ride
 * it out (their commands wait for the reconnect) and finish the rollout; rows whose BullMQ lock ran
 * out meanwhile are re-run by whichever worker sees them stalled, and their recorded outcome or
 * marker keeps that re-run from posting again. An `enqueue` during the outage fails at once with
 * E_REDIS_UNAVAILABLE and leaves nothing behind.
 *
 * Two ways down: a clean restart (SIGTERM, the AOF flushed, Redis's default fsync), and a crash
 * (SIGKILL) with `appendfsync always`, where every write Redis acknowledged is on disk.
 */

const SCENARIO = 'redis-restart';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

// 3 tenants x 3 configurations x 200 groups = 1,800 rows; at 30 writes/s per tenant that is about
// 20 s of Graph time, so the outage lands in the middle of real traffic.
const TENANTS = 3;
const CONFIGURATIONS = 3;
const GROUPS = 200;
const RATE = { max: 30, windowMs: 1000 };

const cases = [
  { how: 'SIGTERM, everysec', signal: 'SIGTERM', appendfsync: 'everysec' },
  { how: 'SIGKILL, always', signal: 'SIGKILL', appendfsync: 'always' },
] as const;

describe(`Redis restarted mid-rollout (seed ${dice.seed})`, () => {
  let redisServer: RestartableRedis | undefined;
  let stack: Stack | undefined;
  afterEach(async () => {
    if (redisServer && !redisServer.running()) await redisServer.start();
    await stack?.stop();
    await redisServer?.stop();
    stack = undefined;
    redisServer = undefined;
  });

  it.each(cases)(
    'Redis restarted ($how): the workers reconnect and finish every row exactly once; an enqueue meanwhile fails with E_REDIS_UNAVAILABLE and enqueues nothing',
    async ({ signal, appendfsync }) => {
      const server = (redisServer = await startRestartableRedis({ appendfsync }));
      const s = (stack = await startStackOn(server.url, {
        emulator: { rateLimit: RATE, latencyMs: 30 },
        env: { GRAPH_RATE_LIMIT: `${RATE.max}/${RATE.windowMs}ms`, WORKER_CONCURRENCY: '16' },
      }));
      const workers = [await s.worker(), await s.worker()];
      const tenants = [s.tenantId, ...Array.from({ length: TENANTS - 1 }, () => randomUUID())];
      const rows = makeRows(tenants, CONFIGURATIONS, GROUPS);
      const lateRows = makeRows(tenants, 1, 50);
      await s.control.createConfigurations([...rows, ...lateRows]);
      const lateCsv = s.writeCsv(lateRows, 'during-outage.csv');
      const started = Date.now();
      const rolloutId = await enqueueRows(s, rows);
      log(`enqueued ${rows.length} rows as ${rolloutId}`);

      const at = dice.between(0.2, 0.6);
      const before = await waitForFraction(s, rolloutId, at);
      const rolloutsBefore = await s.redis.zrange(`${s.prefix}:rollouts`, '0', '-1');
      expect(rolloutsBefore).toEqual([rolloutId]);

      await server.stop(signal);
      const downAt = Date.now();
      log(`Redis ${signal} at ${before.done}/${before.total} done`);

      const during = await s.cli(['enqueue', lateCsv, '--json']);
      log(`enqueue during the outage exited ${during.code} after ${Date.now() - downAt} ms: ${during.stderr.trim()}`);
      expect(during.code).toBe(2);
      expect(during.stderr).toMatch(
        /^error E_REDIS_UNAVAILABLE: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/? \(REDIS_URL\)/m,
      );
      expect(during.stdout).toBe('');

      // Long enough that the dead connections' BullMQ locks (WORKER_LOCK_MS 4 s) may run out.
      await sleep(dice.int(1000, 5000));
      await server.start();
      log(`Redis back after ${Date.now() - downAt} ms`);
      await waitUntil(
        'the test client reconnected',
        () =>
          s.redis.ping().then(
            (p) => p === 'PONG',
            () => false,
          ),
        20_000,
      );

      await s.waitFinished(rolloutId, 180_000);
      log(`rollout finished ${((Date.now() - started) / 1000).toFixed(1)} s after enqueue`);
      await expectRolloutWhole(s, rolloutId, rows);

      // Nothing of the refused enqueue: no rollout, no row, no job, no marker, no assignment.
      expect(await s.redis.zrange(`${s.prefix}:rollouts`, '0', '-1')).toEqual([rolloutId]);
      const keys = await s.redis.keys(`${s.prefix}:*`);
      const strangers = keys.filter(
        (k) =>
          (k.startsWith(`${s.prefix}:rollout:`) && !k.startsWith(`${s.prefix}:rollout:${rolloutId}`)) ||
          lateRows.some((r) => k.includes(r.groupId)),
      );
      expect(strangers).toEqual([]);
      const listed = await s.cli(['list', '--json']);
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as { rolloutId: string }[]).map((r) => r.rolloutId)).toEqual([rolloutId]);
      const truth = await s.control.truth();
      expect(lateRows.filter((r) => truth.tenants[r.tenantId]?.[r.configurationId]?.[r.groupId])).toEqual([]);

      // The workers lived through it, and did see Redis go.
      for (const w of workers) expect(w.child.exitCode).toBeNull();
      expect(workers.some((w) => w.logs().includes('Redis connection error; reconnecting'))).toBe(true);
    },
  );
});

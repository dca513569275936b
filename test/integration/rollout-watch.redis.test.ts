import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../lib/redis/local-redis.js';
import { RolloutStore } from '../../lib/rollout/rollout-store.js';
import type { Outcome, OutcomeKind } from '../../lib/outcome.js';
import { exitCodeFor, watchRollout, type WatchOutput } from '../../cli/rollout-watch.js';
import { UserError } from '../../lib/errors/user-error.js';

/**
 * watchRollout in this process, on a real Redis, with outcomes recorded by hand (no worker): the
 * terminal's live bar, cancellation and interruption, exactly and quickly.
 */
let server: LocalRedis | undefined;
let redis: Redis;
let store: RolloutStore;
beforeAll(async () => {
  let url = process.env.REDIS_URL;
  if (!url) {
    server = await startLocalRedis();
    url = server.url;
  }
  redis = new Redis(url);
  store = new RolloutStore(redis, `watch${randomUUID().slice(0, 6)}`, 60_000);
});
afterAll(async () => {
  const keys = await redis.keys(`${store.keys.prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await server?.stop();
});

async function rollout(rows: number): Promise<{ rolloutId: string; rowKeys: string[] }> {
  const rolloutId = randomUUID();
  const tenantId = randomUUID();
  const rowKeys = Array.from({ length: rows }, () => `${tenantId}/${randomUUID()}/${randomUUID()}`);
  await store.create(
    {
      rolloutId,
      source: 'test',
      createdAt: new Date().toISOString(),
      total: rows,
      inputRows: rows,
      duplicateRows: 0,
      tenants: [tenantId],
    },
    rowKeys,
  );
  return { rolloutId, rowKeys };
}

async function record(rolloutId: string, rowKeys: string[], row: number, outcome: OutcomeKind): Promise<void> {
  const [tenantId = '', configurationId = '', groupId = ''] = rowKeys[row]!.split('/');
  const o: Outcome = {
    rolloutId,
    row: row + 1,
    tenantId,
    configurationId,
    groupId,
    action: 'create',
    outcome,
    assignmentId: null,
    httpStatus: outcome === 'failed' ? 404 : null,
    attempts: 1,
    requestId: null,
    clientRequestId: null,
    code: null,
    errorCode: null,
    errorMessage: null,
    finishedAt: new Date().toISOString(),
  };
  await store.record(o, rowKeys[row]!, { action: 'keep' });
}

/** A stream that says it is a terminal, keeping what is written to it. */
function fakeTerminal(isTTY: boolean): { out: WatchOutput; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { out: Object.assign(stream, { isTTY, columns: 160 }), text: () => text };
}

/** Resolves once `predicate` holds for a status the watch has read. */
function pollsUntil(predicate: (s: { state: string; pending: number }) => boolean) {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return { seen, onPoll: (s: { state: string; pending: number }) => (predicate(s) ? resolve() : undefined) };
}

describe('watchRollout', () => {
  it('draws a live bar on a terminal and ends with a summary when the last row has its outcome', async () => {
    const { rolloutId, rowKeys } = await rollout(3);
    const term = fakeTerminal(true);
    const running = pollsUntil((s) => s.pending === 3);
    const watching = watchRollout(store, rolloutId, { out: term.out, intervalMs: 10, onPoll: running.onPoll });
    await running.seen;
    await record(rolloutId, rowKeys, 0, 'created');
    await record(rolloutId, rowKeys, 1, 'already-assigned');
    await record(rolloutId, rowKeys, 2, 'failed');
    const result = await watching;

    expect(result.interrupted).toBe(false);
    expect(result.status).toMatchObject({ state: 'finished', created: 1, alreadyAssigned: 1, failed: 1, pending: 0 });
    expect(exitCodeFor(result.status)).toBe(1);
    const text = term.text();
    expect(text).toContain('\x1b[?25l'); // cursor hidden while the bar runs…
    expect(text).toContain('\x1b[?25h'); // …and shown again
    expect(text).toMatch(
      /progress \S+ [0-3]\/3 rows \| [\d.]+\/s \| ETA \S+ \| created \d already \d failed \d cancelled 0/,
    );
    expect(text.trimEnd().split('\n').at(-1)).toMatch(
      /^finished 3\/3 rows in [\d.]+s \| created 1 already 1 failed 1 cancelled 0$/,
    );
  });

  it('keeps watching a cancelled rollout until its last rows are recorded, then exits 0 if none failed', async () => {
    const { rolloutId, rowKeys } = await rollout(2);
    await record(rolloutId, rowKeys, 0, 'created');
    const term = fakeTerminal(false);
    let cancelledReads = 0;
    const cancelled = pollsUntil((s) => s.state === 'cancelled' && ++cancelledReads === 3);
    let ended = false;
    const watching = watchRollout(store, rolloutId, {
      out: term.out,
      intervalMs: 10,
      onPoll: cancelled.onPoll,
    }).finally(() => (ended = true));
    await store.markCancelled(rolloutId, new Date().toISOString());
    await cancelled.seen; // three reads of a cancelled rollout with one row still in flight
    expect(ended).toBe(false);
    await record(rolloutId, rowKeys, 1, 'cancelled');
    const result = await watching;
    expect(result).toMatchObject({
      interrupted: false,
      status: { state: 'cancelled', created: 1, cancelled: 1, pending: 0 },
    });
    expect(exitCodeFor(result.status)).toBe(0);
    expect(term.text()).toMatch(/^progress 1\/2 rows .*\n/);
    expect(term.text()).toMatch(/\ncancelled at \S+: 2\/2 rows ended \| created 1 already 0 failed 0 cancelled 1\n$/);
  });

  it('stops watching, not the rollout, when interrupted, and says how to watch again', async () => {
    const { rolloutId } = await rollout(2);
    const term = fakeTerminal(false);
    const stop = new AbortController();
    const sigintListeners = process.listenerCount('SIGINT');
    const started = pollsUntil(() => true);
    const watching = watchRollout(store, rolloutId, {
      out: term.out,
      intervalMs: 10,
      signal: stop.signal,
      onPoll: started.onPoll,
    });
    await started.seen;
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners + 1); // Ctrl-C is caught while watching
    stop.abort();
    const result = await watching;
    expect(result).toMatchObject({ interrupted: true, status: { state: 'running', pending: 2 } });
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
    expect(term.text()).toContain(
      'stopped watching at 0/2 rows (rollout running, it goes on) | created 0 already 0 failed 0 cancelled 0\n',
    );
    expect(term.text()).toContain(`watch it again: assignments status ${rolloutId} --watch\n`);
    expect((await store.status(rolloutId))?.state).toBe('running');
  });

  it('refuses an unknown rollout with E_ROLLOUT_NOT_FOUND', async () => {
    const unknown = randomUUID();
    const err = await watchRollout(store, unknown, { out: fakeTerminal(false).out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ code: 'E_ROLLOUT_NOT_FOUND' });
    expect((err as Error).message).toContain(unknown);
  });

  it('stops with the error its onPoll throws, and restores the terminal', async () => {
    const { rolloutId } = await rollout(1);
    const term = fakeTerminal(true);
    let polls = 0;
    const failing = watchRollout(store, rolloutId, {
      out: term.out,
      intervalMs: 10,
      onPoll: () => {
        if (++polls === 3) throw new Error('both workers exited');
      },
    });
    await expect(failing).rejects.toThrow('both workers exited');
    expect(term.text()).toContain('\x1b[?25h');
  });
});

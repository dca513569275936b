import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../lib/queues/assignment-queue.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * `enqueue` at 100,000 rows, through the real CLI with no worker running: every row validated
 * before anything is written, every row in the row list and in the queue, in input order, and the
 * report showing each one pending. Memory and speed are the benchmark's business (bench/), not this.
 */
describe('enqueue streaming a 100,000-row input', () => {
  const ROWS = 100_000;
  const CONFIGURATIONS = 20;
  let stack: Stack;
  let otherTenant: string;
  /** Prefixes used besides the stack's own, cleaned up at the end (they share REDIS_URL when set). */
  const prefixes: string[] = [];

  beforeAll(async () => {
    stack = await startStack();
    otherTenant = randomUUID();
  });
  afterAll(async () => {
    if (stack) {
      for (const prefix of prefixes) {
        const keys = await stack.redis.keys(`${prefix}:*`);
        for (let i = 0; i < keys.length; i += 1000) await stack.redis.del(...keys.slice(i, i + 1000));
      }
      await stack.stop();
    }
  });

  /** A fresh QUEUE_PREFIX on the stack's Redis, so "nothing was written" means no key at all. */
  function freshPrefix(): string {
    const prefix = `${stack.prefix}x${prefixes.length}`;
    prefixes.push(prefix);
    return prefix;
  }

  /** Readable, distinct, valid ids: `n` in the last group of a GUID. */
  const id = (kind: number, n: number) => `0000000${kind}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

  /** Data row i (0-based; file line i + 2): two tenants alternating, each with CONFIGURATIONS configurations. */
  function row(i: number): { tenantId: string; configurationId: string; groupId: string } {
    return {
      tenantId: i % 2 === 0 ? stack.tenantId : otherTenant,
      configurationId: id(1, Math.floor(i / 2) % CONFIGURATIONS),
      groupId: id(2, i),
    };
  }

  function writeRows(name: string, line: (i: number) => string): string {
    const parts = ['tenantId,configurationId,groupId\n'];
    for (let i = 0; i < ROWS; i++) parts.push(`${line(i)}\n`);
    const path = join(stack.dir, name);
    writeFileSync(path, parts.join(''));
    return path;
  }

  const csvLine = (i: number) => {
    const r = row(i);
    return `${r.tenantId},${r.configurationId},${r.groupId}`;
  };

  async function waitingJobs(prefix: string): Promise<number> {
    const queue = new Queue(QUEUE_NAME, { connection: stack.redis, prefix });
    try {
      return await queue.getWaitingCount();
    } finally {
      await queue.close();
    }
  }

  it('enqueues every row, in input order: rollout record, row list, one waiting job per row, a report of 100,000 pending rows', async () => {
    const path = writeRows('big.csv', csvLine);
    const run = await stack.cli(['enqueue', path, '--json']);
    expect({ exit: run.code, stderr: run.stderr }).toEqual({ exit: 0, stderr: '' });

    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(result)).toEqual([
      'rolloutId',
      'name',
      'source',
      'total',
      'inputRows',
      'duplicateRows',
      'tenants',
      'configurations',
      'createdAt',
    ]);
    expect(result).toMatchObject({
      name: null,
      source: path,
      total: ROWS,
      inputRows: ROWS,
      duplicateRows: 0,
      tenants: [stack.tenantId, otherTenant],
      configurations: 2 * CONFIGURATIONS,
    });
    const rolloutId = result.rolloutId as string;

    const { prefix, redis } = stack;
    expect(await redis.hget(`${prefix}:rollout:${rolloutId}`, 'total')).toBe(String(ROWS));
    const rowList = `${prefix}:rollout:${rolloutId}:rows`;
    expect(await redis.llen(rowList)).toBe(ROWS);
    expect(await waitingJobs(prefix)).toBe(ROWS);

    const rowKey = (i: number) => `${row(i).tenantId}/${row(i).configurationId}/${row(i).groupId}`;
    const spots = [0, 1, 249, 250, 251, 999, 1000, 54_321, ROWS - 2, ROWS - 1];
    for (const i of spots) {
      expect(await redis.lindex(rowList, i)).toBe(rowKey(i));
      const data = JSON.parse(
        (await redis.hget(`${prefix}:${QUEUE_NAME}:${rolloutId}-${i}`, 'data')) ?? 'null',
      ) as unknown;
      expect(data).toEqual({ rolloutId, row: i, ...row(i) });
    }

    const report = await stack.cli(['report', rolloutId, '--format', 'json']);
    expect({ exit: report.code, stderr: report.stderr }).toEqual({ exit: 0, stderr: '' });
    const rows = JSON.parse(report.stdout) as {
      row: number;
      outcome: string;
      tenantId: string;
      configurationId: string;
      groupId: string;
    }[];
    expect(rows).toHaveLength(ROWS);
    expect(rows.filter((r) => r.outcome !== 'pending')).toEqual([]);
    for (const i of spots) expect(rows[i]).toMatchObject({ row: i + 1, outcome: 'pending', ...row(i) });
  });

  it('refuses a file whose only bad row is line 90,001, and writes nothing at all', async () => {
    const prefix = freshPrefix();
    const badLine = 90_001;
    const path = writeRows('bad-late.csv', (i) =>
      i + 2 === badLine ? `${row(i).tenantId},${row(i).configurationId},not-a-group` : csvLine(i),
    );
    const run = await stack.cli(['enqueue', path, '--json'], { env: { QUEUE_PREFIX: prefix } });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('error E_INPUT_INVALID:');
    expect(run.stderr).toContain(`bad-late.csv:${badLine}: groupId "not-a-group" is not an object id (GUID)`);
    expect(run.stderr).toContain('1 problem(s), nothing was enqueued');
    expect(run.stdout).toBe('');
    expect(await stack.redis.keys(`${prefix}:*`)).toEqual([]);
    expect(await stack.redis.llen(`${prefix}:${QUEUE_NAME}:wait`)).toBe(0);
  });

  it('reads stdin (-) once, collapsing duplicates (ids compared case-insensitively) to their first occurrence', async () => {
    const prefix = freshPrefix();
    const unique = 3000;
    const lines = ['tenantId,configurationId,groupId'];
    const expected: string[] = [];
    for (let i = 0; i < unique; i++) {
      lines.push(csvLine(i));
      expected.push(`${row(i).tenantId}/${row(i).configurationId}/${row(i).groupId}`);
      // Every third row comes back later: upper-cased, padded, or as is.
      if (i % 3 === 2) {
        const earlier = row(i - 2);
        lines.push(
          i % 2 === 0
            ? ` ${earlier.tenantId.toUpperCase()} ,${earlier.configurationId},${earlier.groupId.toUpperCase()}`
            : csvLine(i - 2),
        );
      }
    }
    const duplicates = lines.length - 1 - unique;
    const run = await stack.cli(['enqueue', '-', '--json', '--name', 'from stdin'], {
      input: `${lines.join('\r\n')}\r\n`,
      env: { QUEUE_PREFIX: prefix },
    });
    expect({ exit: run.code, stderr: run.stderr }).toEqual({ exit: 0, stderr: '' });

    const result = JSON.parse(run.stdout) as { rolloutId: string };
    expect(result).toMatchObject({
      name: 'from stdin',
      source: 'stdin',
      total: unique,
      inputRows: unique + duplicates,
      duplicateRows: duplicates,
    });
    expect(duplicates).toBe(unique / 3);
    expect(await stack.redis.lrange(`${prefix}:rollout:${result.rolloutId}:rows`, 0, -1)).toEqual(expected);
    expect(await waitingJobs(prefix)).toBe(unique);
  });
});

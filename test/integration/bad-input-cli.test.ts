import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRows, rolloutIdOf, useStack, type CliResult, type Stack } from '../support/stack.js';

/**
 * What a person gets from the CLI for bad input, an unknown rollout or a bad setting: exit code 2,
 * one `error E_…:` line naming the file and line (or the variable) and the reason, no stack trace,
 * and nothing enqueued: a bad file changes nothing in Redis, however much of it was valid.
 */
describe('the CLI refusing bad input', () => {
  const stack = useStack();

  const file = (name: string, content: string | Buffer): string => {
    const path = join(stack.dir, name);
    writeFileSync(path, content);
    return path;
  };

  /** Rollouts, waiting jobs and job hashes under the stack's prefix. */
  async function enqueued(): Promise<{ rolloutKeys: string[]; waiting: number; jobKeys: string[] }> {
    const rolloutKeys = (await stack.redis.keys(`${stack.prefix}:rollout*`)).sort();
    const waiting = await stack.redis.llen(`${stack.prefix}:assignments:wait`);
    const jobKeys = (await stack.redis.keys(`${stack.prefix}:assignments:*`))
      .filter((k) => !/:(meta|id|events|stalled-check)$/.test(k))
      .sort();
    return { rolloutKeys, waiting, jobKeys };
  }

  /** Runs the CLI: exit 2, the error code and every `mentions` on stderr, no stack trace, and nothing enqueued. */
  async function expectRefused(
    args: string[],
    options: Parameters<Stack['cli']>[1],
    code: string,
    mentions: (string | RegExp)[],
  ): Promise<void> {
    const before = await enqueued();
    const run: CliResult = await stack.cli(args, options);
    expect({ exit: run.code, stderr: run.stderr }).toMatchObject({ exit: 2 });
    expect(run.stderr).toContain(`error ${code}:`);
    for (const m of mentions) expect(run.stderr).toMatch(m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe('');
    expect(await enqueued()).toEqual(before);
  }

  const csv = (lines: string[]) => `${lines.join('\n')}\n`;
  const header = 'tenantId,configurationId,groupId';
  const row = () => {
    const [r] = makeRows([stack.tenantId], 1, 1);
    return `${r!.tenantId},${r!.configurationId},${r!.groupId}`;
  };

  it('refuses a CSV with a non-GUID groupId on line 3, naming the line and the value, and enqueues none of its good rows', async () => {
    const path = file('bad.csv', csv([header, row(), `${stack.tenantId},${randomUUID()},not-a-group`, row(), row()]));
    await expectRefused(['enqueue', path], {}, 'E_INPUT_INVALID', [/bad\.csv:3: /, /groupId/, /not-a-group/]);
  });

  it('refuses an empty file', async () => {
    await expectRefused(['enqueue', file('empty.csv', '')], {}, 'E_INPUT_INVALID', [/empty\.csv:1: /, /empty/]);
  });

  it('refuses a CSV without a groupId column, naming the column', async () => {
    const path = file('no-group.csv', csv(['tenantId,configurationId', `${stack.tenantId},${randomUUID()}`]));
    await expectRefused(['enqueue', path], {}, 'E_INPUT_INVALID', [/no-group\.csv:1: /, /missing column groupId/]);
  });

  it('refuses binary garbage (a spreadsheet passed by mistake)', async () => {
    const zip = Buffer.concat([
      Buffer.from('PK\u0003\u0004\u0014\u0000\u0006\u0000', 'latin1'),
      Buffer.from([0, 0, 0x21, 0, 0xff, 0xfe, 0x80, 0x81, 0x0a, 0x00, 0x9c]),
    ]);
    await expectRefused(['enqueue', file('rollout.xlsx', zip)], {}, 'E_INPUT_INVALID', [/rollout\.xlsx:1: /, /binary/]);
  });

  it('refuses a 2 MB line without reading it into a row', async () => {
    const path = file('long.csv', csv([header, 'a'.repeat(2 * 1024 * 1024), row()]));
    await expectRefused(['enqueue', path], {}, 'E_INPUT_INVALID', [/long\.csv:2: /, /longer than/]);
  });

  it('refuses JSON of the wrong shape: an object instead of an array, and items that are not rows', async () => {
    const wrapped = file(
      'wrapped.json',
      JSON.stringify({ rows: [{ configurationId: randomUUID(), groupId: randomUUID() }] }),
    );
    await expectRefused(['enqueue', wrapped], {}, 'E_INPUT_INVALID', [/wrapped\.json:1: /, /array/]);
    const typed = file(
      'typed.json',
      `[\n  {"configurationId": "${randomUUID()}", "groupId": "${randomUUID()}"},\n  {"configurationId": 42, "groupId": "${randomUUID()}"}\n]\n`,
    );
    await expectRefused(['enqueue', typed], {}, 'E_INPUT_INVALID', [
      /typed\.json:3: /,
      /configurationId/,
      /not a string/,
    ]);
  });

  it('refuses bad rows and empty input on stdin (-), naming stdin and the line', async () => {
    const input = csv(['configurationId,groupId', `${randomUUID()},${randomUUID()}`, `${randomUUID()},nope`]);
    await expectRefused(['enqueue', '-'], { input }, 'E_INPUT_INVALID', [/stdin:3: /, /groupId/, /nope/]);
    await expectRefused(['enqueue', '-'], { input: '' }, 'E_INPUT_INVALID', [/stdin:1: /, /empty/]);
  });

  it('refuses a file that does not exist', async () => {
    await expectRefused(['enqueue', join(stack.dir, 'missing.csv')], {}, 'E_INPUT_UNREADABLE', [
      /missing\.csv/,
      /ENOENT/,
    ]);
  });

  it('says an unknown rollout id is unknown, for status and for report', async () => {
    const unknown = randomUUID();
    await expectRefused(['status', unknown], {}, 'E_ROLLOUT_NOT_FOUND', [unknown]);
    await expectRefused(['status', unknown, '--json'], {}, 'E_ROLLOUT_NOT_FOUND', [unknown]);
    await expectRefused(['report', unknown, '--format', 'json'], {}, 'E_ROLLOUT_NOT_FOUND', [unknown]);
    await expectRefused(['report', unknown, '--format', 'csv'], {}, 'E_ROLLOUT_NOT_FOUND', [unknown]);
  });

  it('names the variable of a bad setting before doing anything, for every command', async () => {
    const good = file('good.csv', csv([header, row()]));
    const badRate = { GRAPH_RATE_LIMIT: 'abc' };
    await expectRefused(['enqueue', good], { env: badRate }, 'E_CONFIG_INVALID', [/GRAPH_RATE_LIMIT/]);
    await expectRefused(['worker'], { env: badRate }, 'E_CONFIG_INVALID', [/GRAPH_RATE_LIMIT/]);
    const badRedis = { REDIS_URL: 'http://x' };
    await expectRefused(['enqueue', good], { env: badRedis }, 'E_CONFIG_INVALID', [/REDIS_URL/]);
    await expectRefused(['status', randomUUID()], { env: badRedis }, 'E_CONFIG_INVALID', [/REDIS_URL/]);
    await expectRefused(['worker'], { env: badRedis }, 'E_CONFIG_INVALID', [/REDIS_URL/]);
    await expectRefused(['enqueue', good], { env: { WORKER_CONCURRENCY: '0' } }, 'E_CONFIG_INVALID', [
      /WORKER_CONCURRENCY/,
    ]);
  });

  it('refuses to start a worker, the server or a command when Redis does not answer: exit 2, REDIS_URL and the connection error named', async () => {
    // Nothing listens on port 1. A worker's connection queues commands until Redis is back, so its
    // check gives up after 10 s; the server's and a command's fail at once.
    const away = { REDIS_URL: 'redis://:hunter2@127.0.0.1:1', SERVER_PORT: '0' };
    for (const args of [['worker'], ['serve'], ['status', randomUUID()]]) {
      const run = await stack.cli(args, { env: away });
      expect({ args, exit: run.code }).toEqual({ args, exit: 2 });
      expect(run.stderr).toMatch(
        /^error E_REDIS_UNAVAILABLE: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/? \(REDIS_URL\): .*ECONNREFUSED/m,
      );
      expect(run.stderr).not.toContain('hunter2');
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('accepts rows on stdin once they are valid (the refusals were about the input, not stdin)', async () => {
    const run = await stack.cli(['enqueue', '-', '--json'], { input: csv([header, row(), row()]) });
    expect(JSON.parse(run.stdout)).toMatchObject({ rolloutId: rolloutIdOf(run), total: 2 });
    expect((await enqueued()).waiting).toBe(2);
  });
});

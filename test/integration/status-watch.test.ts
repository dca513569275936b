import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { startStack, type Stack } from '../support/stack.js';
import { startCli } from '../support/cli-process.js';
import { enqueueRows, statusOf } from '../support/rollout-checks.js';

const PROGRESS =
  /^progress \d+\/\d+ rows \| \d+\.\d\/s \| ETA \S+ \| created \d+ already \d+ failed \d+ cancelled \d+( \| .+)?$/;

/**
 * `assignments status <id> --watch` through the real CLI, with real workers, on a pipe (not a TTY):
 * progress lines, then a summary, and an exit code that says whether rows failed. Ctrl-C stops the
 * watching, never the rollout.
 */
describe('status --watch', () => {
  let stack: Stack;
  let configurationId: string;
  const rowsOf = (n: number, configuration = configurationId): AssignmentRow[] =>
    Array.from({ length: n }, () => ({
      tenantId: stack.tenantId,
      configurationId: configuration,
      groupId: randomUUID(),
    }));

  beforeAll(async () => {
    // Strict: a configuration the emulator was not told about answers 404, so rows can fail on purpose.
    stack = await startStack({
      emulator: { strictConfigurations: true },
      env: { RETRY_BASE_DELAY_MS: '100', GRAPH_SETTLE_MS: '500' },
    });
    configurationId = (await stack.control.createConfiguration(stack.tenantId, { displayName: 'Office baseline' })).id;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('Ctrl-C stops watching with exit 130, says where the rollout stands and how to watch again; the rollout goes on', async () => {
    const rolloutId = await enqueueRows(stack, rowsOf(5)); // no worker yet: it stays at 0/5
    const watch = startCli(stack, ['status', rolloutId, '--watch']);
    await watch.waitFor(/^progress 0\/5 rows/m);
    watch.child.kill('SIGINT');
    const result = await watch.exited;
    expect(result.code).toBe(130);
    expect(result.stdout).toContain(
      'stopped watching at 0/5 rows (rollout running, it goes on) | created 0 already 0 failed 0 cancelled 0\n',
    );
    expect(result.stdout).toContain(`watch it again: assignments status ${rolloutId} --watch\n`);
    expect(await statusOf(stack, rolloutId)).toMatchObject({ state: 'running', pending: 5 });
  });

  it('prints progress lines on a pipe and exits 0 once the rollout finishes with no failed row', async () => {
    const rolloutId = await enqueueRows(stack, rowsOf(60));
    const watch = startCli(stack, ['status', rolloutId, '--watch']);
    await watch.waitFor(/^progress 0\/60 rows/m);
    await stack.worker();
    await stack.worker();
    const result = await watch.exited;

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('progress 0/60 rows | 0.0/s | ETA -- | created 0 already 0 failed 0 cancelled 0');
    for (const line of lines.slice(0, -1)) expect(line).toMatch(PROGRESS);
    expect(lines.at(-1)).toMatch(/^finished 60\/60 rows in \S+ \| created 60 already 0 failed 0 cancelled 0$/);
  });

  it('exits 1 when some rows failed; with --json the progress goes to stderr and the final status to stdout', async () => {
    const missingConfiguration = randomUUID();
    const rows = rowsOf(10).flatMap((row, i) => [
      row,
      rowsOf(1, missingConfiguration)[0]!,
      ...(i % 2 ? [] : rowsOf(1)),
    ]);
    const rolloutId = await enqueueRows(stack, rows);

    const human = await stack.cli(['status', rolloutId, '--watch']);
    expect(human.code).toBe(1);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /^finished 25\/25 rows in \S+ \| created 15 already 0 failed 10 cancelled 0$/,
    );

    const json = await stack.cli(['status', rolloutId, '--watch', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      rolloutId,
      state: 'finished',
      total: 25,
      failed: 10,
      created: 15,
      pending: 0,
    });
    expect(json.stderr).toMatch(/^finished 25\/25 rows in \S+ \| created 15 already 0 failed 10 cancelled 0\n$/);
  });

  it('refuses an unknown rollout with exit 2, at once', async () => {
    const unknown = randomUUID();
    const result = await stack.cli(['status', unknown, '--watch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error E_ROLLOUT_NOT_FOUND: no rollout "${unknown}"`));
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeRows, useStack } from '../support/stack.js';

/** `enqueue --wait` watches the rollout it just enqueued and exits with its verdict. */
describe('enqueue --wait', () => {
  const stack = useStack({ emulator: { strictConfigurations: true } }, { workers: 1 });

  it('exits 0 when every row succeeded, after progress lines and a summary (non-TTY)', async () => {
    const configurationId = randomUUID();
    await stack.control.createConfiguration(stack.tenantId, { id: configurationId });
    const rows = Array.from({ length: 12 }, () => ({
      tenantId: stack.tenantId,
      configurationId,
      groupId: randomUUID(),
    }));
    const run = await stack.cli(['enqueue', stack.writeCsv(rows), '--wait']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^progress \d+\/12 rows/m);
    expect(run.stdout).toMatch(/finished 12\/12 rows/);
  });

  it('exits 1 when some rows failed; with --json stdout holds only the result line', async () => {
    const rows = makeRows([stack.tenantId], 1, 5); // a configuration that does not exist: 404s
    const run = await stack.cli(['enqueue', stack.writeCsv(rows), '--wait', '--json']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ total: 5 });
    expect(run.stderr).toMatch(/failed 5/);
  });
});

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import type { DryRunJson } from '../../cli/dry-run-output.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * `enqueue --dry-run` through the real CLI against the emulator in strict mode (unknown
 * configurations answer 404) with two assignments per page, so listings take several pages.
 */
describe('enqueue --dry-run', () => {
  let stack: Stack;
  let tenantB: string;
  /** Exists, has 5 assignments (3 pages): 2 of the file's groups and 3 others. */
  let configA: string;
  /** Exists, no assignments, in the second tenant. */
  let configB: string;
  /** Does not exist. */
  let missing: string;
  let assignedIds: string[];
  let rows: AssignmentRow[];
  let cleanRows: AssignmentRow[];

  beforeAll(async () => {
    stack = await startStack({ emulator: { strictConfigurations: true, pageSize: 2 } });
    tenantB = randomUUID();
    configA = (await stack.control.createConfiguration(stack.tenantId, { id: randomUUID() })).id;
    configB = (await stack.control.createConfiguration(tenantB, { id: randomUUID() })).id;
    missing = randomUUID();
    const g = Array.from({ length: 7 }, () => randomUUID());
    assignedIds = [];
    for (const groupId of [g[0]!, g[1]!, randomUUID(), randomUUID(), randomUUID()]) {
      assignedIds.push((await stack.control.createAssignment(stack.tenantId, configA, groupId)).id);
    }
    rows = [
      { tenantId: stack.tenantId, configurationId: configA, groupId: g[0]! },
      { tenantId: stack.tenantId, configurationId: missing, groupId: g[5]! },
      { tenantId: stack.tenantId, configurationId: configA, groupId: g[2]! },
      { tenantId: tenantB, configurationId: configB, groupId: g[4]! },
      { tenantId: stack.tenantId, configurationId: configA, groupId: g[1]! },
      { tenantId: stack.tenantId, configurationId: configA, groupId: g[3]! },
      { tenantId: stack.tenantId, configurationId: missing, groupId: g[6]! },
    ];
    cleanRows = rows.filter((r) => r.configurationId !== missing);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('prints the plan per row, exits 1 for a configuration that does not exist, and writes nothing', async () => {
    // The same row again (in upper case) is one row, as for a real enqueue.
    const file = stack.writeCsv([...rows, { ...rows[3]!, groupId: rows[3]!.groupId.toUpperCase() }]);
    const truthBefore = await stack.control.truth();
    const statsBefore = await stack.control.stats();

    const result = await stack.cli(['enqueue', file, '--dry-run', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const out = JSON.parse(result.stdout) as DryRunJson;
    expect(out.dryRun).toBe(true);
    expect(out.summary).toEqual({
      total: 7,
      wouldCreate: 3,
      alreadyAssigned: 2,
      configurationNotFound: 2,
      unreadable: 0,
      configurations: 3,
    });

    const notFound = {
      code: 'E_GRAPH_NOT_FOUND',
      errorCode: 'ResourceNotFound',
      httpStatus: 404,
      message: expect.stringContaining(missing),
      requestId: expect.any(String),
    };
    const at = (i: number) => ({
      line: i + 2,
      tenantId: rows[i]!.tenantId,
      configurationId: rows[i]!.configurationId,
      groupId: rows[i]!.groupId,
    });
    expect(out.rows).toEqual([
      { ...at(0), plan: 'already-assigned', assignmentId: assignedIds[0], reason: null },
      { ...at(1), plan: 'configuration-not-found', assignmentId: null, reason: notFound },
      { ...at(2), plan: 'would-create', assignmentId: null, reason: null },
      { ...at(3), plan: 'would-create', assignmentId: null, reason: null },
      { ...at(4), plan: 'already-assigned', assignmentId: assignedIds[1], reason: null },
      { ...at(5), plan: 'would-create', assignmentId: null, reason: null },
      { ...at(6), plan: 'configuration-not-found', assignmentId: null, reason: notFound },
    ]);

    // Nothing written to Graph; each configuration read once: 3 pages of A and one 404, one page of B.
    expect(await stack.control.truth()).toEqual(truthBefore);
    const stats = await stack.control.stats();
    const delta = (tenantId: string, field: 'reads' | 'writesAccepted') =>
      (stats.tenants[tenantId]?.[field] ?? 0) - (statsBefore.tenants[tenantId]?.[field] ?? 0);
    expect(delta(stack.tenantId, 'reads')).toBe(4);
    expect(delta(tenantB, 'reads')).toBe(1);
    expect(delta(stack.tenantId, 'writesAccepted')).toBe(0);
    expect(delta(tenantB, 'writesAccepted')).toBe(0);
    // Nor to Redis.
    expect(await stack.redis.keys(`${stack.prefix}:*`)).toEqual([]);
  });

  it('exits 0 for a file whose rows can all be rolled out, without Redis at all', async () => {
    const file = stack.writeCsv(cleanRows);
    // Nothing listens on port 1: a dry run that touched Redis would fail with E_REDIS_UNAVAILABLE.
    const result = await stack.cli(['enqueue', file, '--dry-run', '--json'], {
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as DryRunJson;
    expect(out.summary).toEqual({
      total: 5,
      wouldCreate: 3,
      alreadyAssigned: 2,
      configurationNotFound: 0,
      unreadable: 0,
      configurations: 2,
    });
    expect(out.rows.map((r) => r.plan)).toEqual([
      'already-assigned',
      'would-create',
      'would-create',
      'already-assigned',
      'would-create',
    ]);
  });

  it('prints a summary, a table of configurations and the rows needing attention for people', async () => {
    const file = stack.writeCsv(rows);
    const result = await stack.cli(['enqueue', file, '--dry-run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`dry run   ${file}: 7 rows over 2 tenants, 3 configurations; nothing was written`);
    expect(result.stdout).toMatch(/^would create +3$/m);
    expect(result.stdout).toMatch(/^already assigned +2$/m);
    expect(result.stdout).toMatch(/^configuration not found +2$/m);
    expect(result.stdout).toMatch(/^unreadable +0$/m);
    expect(result.stdout).toMatch(new RegExp(`^${stack.tenantId} +${configA} +4 +2 +2 +5 assignments now$`, 'm'));
    expect(result.stdout).toMatch(
      new RegExp(`^${stack.tenantId} +${missing} +2 +0 +0 +not found \\(E_GRAPH_NOT_FOUND\\)$`, 'm'),
    );
    expect(result.stdout).toContain('needs attention: 2 rows');
    expect(result.stdout).toContain(`line 3: configuration-not-found, group ${rows[1]!.groupId}`);
    expect(result.stdout).toContain(`line 8: configuration-not-found, group ${rows[6]!.groupId}`);
  });

  it('marks every row unreadable, with the reason, when Graph cannot be reached', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    server.close();
    await once(server, 'close');

    const file = stack.writeCsv(cleanRows);
    const result = await stack.cli(['enqueue', file, '--dry-run', '--json'], {
      env: { GRAPH_BASE_URL: `https://127.0.0.1:${port}/beta`, GRAPH_TIMEOUT_MS: '1000', RETRY_BASE_DELAY_MS: '50' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const out = JSON.parse(result.stdout) as DryRunJson;
    expect(out.summary).toEqual({
      total: 5,
      wouldCreate: 0,
      alreadyAssigned: 0,
      configurationNotFound: 0,
      unreadable: 5,
      configurations: 2,
    });
    for (const row of out.rows) {
      expect(row).toMatchObject({ plan: 'unreadable', assignmentId: null });
      expect(row.reason).toEqual({
        code: 'E_GRAPH_NETWORK',
        errorCode: 'ECONNREFUSED',
        message: 'Network error ECONNREFUSED (gave up after 4 attempts)',
        httpStatus: null,
        requestId: null,
      });
    }
  });

  it('exits 2 on bad input or missing credentials, before reading Graph', async () => {
    const statsBefore = await stack.control.stats();
    const bad = stack.writeCsv([{ ...rows[0]!, groupId: 'not-a-guid' }]);
    const badInput = await stack.cli(['enqueue', bad, '--dry-run', '--json']);
    expect(badInput.code).toBe(2);
    expect(badInput.stdout).toBe('');
    expect(badInput.stderr).toMatch(/^error E_INPUT_INVALID: /);

    const noSecret = await stack.cli(['enqueue', stack.writeCsv(cleanRows), '--dry-run'], {
      env: { AZURE_CLIENT_SECRET: '' },
    });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(
      /^error E_CONFIG_INVALID: AZURE_CLIENT_SECRET: or AZURE_CLIENT_CERTIFICATE_PATH is required for a dry run/,
    );

    expect((await stack.control.stats()).tenants[stack.tenantId]?.reads).toBe(
      statsBefore.tenants[stack.tenantId]?.reads,
    );
  });
});

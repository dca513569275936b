import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { readRolloutFile } from '../../producer/rollout-file.js';
import { scanRolloutFile } from '../../producer/rollout-scan.js';
import { UniqueRows } from '../../producer/unique-rows.js';

/**
 * The validation pass of a streaming `enqueue`: packed unique rows that come back exactly as they
 * went in, in first-seen order, and a scan that accepts, refuses and counts exactly as the
 * whole-file reader does.
 */
const T1 = '11111111-1111-1111-1111-111111111111';
const T2 = '22222222-2222-2222-2222-222222222222';
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'enqueue-scan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('UniqueRows', () => {
  it('gives rows back exactly, in first-seen order, and refuses a row seen before', () => {
    const rows = new UniqueRows();
    const a = { tenantId: T1, configurationId: id(1), groupId: id(0xabcdef) };
    const b = {
      tenantId: T2,
      configurationId: 'c0ffee00-0000-4000-8000-0123456789ab',
      groupId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
    };
    expect(rows.add(a)).toBe(true);
    expect(rows.add(b)).toBe(true);
    expect(rows.add({ ...a })).toBe(false);
    expect(rows.add({ ...a, groupId: id(0xabcdee) })).toBe(true);
    expect(rows.size).toBe(3);
    expect([...rows]).toEqual([a, b, { ...a, groupId: id(0xabcdee) }]);
    // Iterating does not consume them.
    expect([...rows]).toEqual([...rows]);
  });

  it('refuses ids it could not pack exactly', () => {
    const rows = new UniqueRows();
    expect(() => rows.add({ tenantId: T1, configurationId: id(1), groupId: 'not-a-guid' })).toThrow(TypeError);
    expect(() =>
      rows.add({ tenantId: T1, configurationId: id(1), groupId: 'zzzzzzzz-0000-4000-8000-000000000000' }),
    ).toThrow(TypeError);
    expect(rows.size).toBe(0);
  });
});

describe('scanRolloutFile', () => {
  it('counts, de-duplicates and orders exactly as readRolloutFile does', async () => {
    const lines = ['tenantId,configurationId,groupId'];
    for (let i = 0; i < 2000; i++) {
      // Every fifth row repeats an earlier one, sometimes in upper case.
      const n = i % 5 === 4 ? i - 3 : i;
      const row = `${n % 3 === 0 ? T2 : T1},${id(n % 7)},${id(1_000 + n)}`;
      lines.push(i % 10 === 9 ? row.toUpperCase() : row);
    }
    const path = await file('mixed.csv', `${lines.join('\n')}\n`);
    const read = await readRolloutFile(path);
    const scan = await scanRolloutFile(path);
    expect([...scan.rows]).toEqual(read.rows);
    expect({ inputRows: scan.inputRows, duplicateRows: scan.duplicateRows, format: scan.format }).toEqual({
      inputRows: read.inputRows,
      duplicateRows: read.duplicateRows,
      format: read.format,
    });
    expect(scan.tenants).toEqual([...new Set(read.rows.map((r) => r.tenantId))]);
    expect(scan.configurations).toBe(new Set(read.rows.map((r) => `${r.tenantId}/${r.configurationId}`)).size);
    expect(scan.duplicateRows).toBeGreaterThan(0);
  });

  it('reads JSON on stdin', async () => {
    const items = [
      { configurationId: id(1), groupId: id(2) },
      { configurationId: id(1), groupId: id(3), tenantId: T2 },
      { configurationId: id(1).toUpperCase(), groupId: id(2), tenantId: null },
    ];
    const scan = await scanRolloutFile('-', { stdin: Readable.from([JSON.stringify(items)]), defaultTenantId: T1 });
    expect(scan).toMatchObject({
      inputRows: 3,
      duplicateRows: 1,
      tenants: [T1, T2],
      configurations: 2,
      format: 'json',
    });
    expect([...scan.rows]).toEqual([
      { tenantId: T1, configurationId: id(1), groupId: id(2) },
      { tenantId: T2, configurationId: id(1), groupId: id(3) },
    ]);
  });

  it('refuses a bad row anywhere with the same problems as readRolloutFile', async () => {
    const path = await file(
      'bad.csv',
      `configurationId,groupId\n${id(1)},${id(2)}\n${id(1)},nope\n${id(1)},${id(3)}\n`,
    );
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const scanned = await errorOf(scanRolloutFile(path, { defaultTenantId: T1 }));
    expect(scanned).toMatchObject({
      code: ErrorCodes.INPUT_INVALID,
      exitCode: 2,
      details: [`${path}:3: groupId "nope" is not an object id (GUID)`],
    });
    expect(scanned).toEqual(await errorOf(readRolloutFile(path, { defaultTenantId: T1 })));
  });
});

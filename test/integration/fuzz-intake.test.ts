import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowKey, type AssignmentRow } from '../../lib/assignment-row.js';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { UserError } from '../../lib/errors/user-error.js';
import { readRolloutFile } from '../../producer/rollout-file.js';
import { scanRolloutFile } from '../../producer/rollout-scan.js';
import { useStack } from '../support/stack.js';

/**
 * Property-based tests of the rollout intake (CSV and JSON, by extension and sniffed), the gate every
 * row passes before it can reach Redis. Whatever bytes a file holds, the readers either hand back
 * rows made only of normalized GUIDs or refuse the file with a UserError a person can act on; a
 * TypeError or a parser's own exception escaping would be a crash in `enqueue`, and a row that is
 * not a GUID triple would become a Graph URL. Seeds are printed by fast-check on failure; set
 * FC_SEED to replay one.
 */

const NORMALIZED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEFAULT_TENANT = '6f1c2a8e-3b7d-4c9a-9e21-5d4b8a7c0f13';
const INPUT_CODES: string[] = [ErrorCodes.INPUT_INVALID, ErrorCodes.INPUT_UNREADABLE];
const seed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fuzz-intake-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeInput(content: string | Uint8Array, extension: string): string {
  const path = join(dir, `in-${randomUUID().slice(0, 8)}${extension}`);
  writeFileSync(path, content);
  return path;
}

// --- generators -------------------------------------------------------------------------------

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
/** A GUID as a lower-case canonical id. */
const guid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join('-'));
/** The same GUID as a person might write it: any letter case, blanks around it. */
const written = (id: string) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: id.length, maxLength: id.length }),
      fc.constantFrom('', ' ', '  ', '\t'),
      fc.constantFrom('', ' ', '\t '),
    )
    .map(
      ([upper, before, after]) => before + [...id].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('') + after,
    );

interface GeneratedRow {
  row: AssignmentRow;
  /** Tenant written in the file, or undefined: the row relies on AZURE_TENANT_ID. */
  tenant: string | undefined;
  configuration: string;
  group: string;
}

/**
 * Rows drawn from small pools of ids, so duplicates (same triple, maybe written in another case)
 * happen often enough to exercise de-duplication.
 */
const rowsArb = fc
  .record({
    tenants: fc.array(guid, { minLength: 1, maxLength: 3 }),
    configurations: fc.array(guid, { minLength: 1, maxLength: 3 }),
    groups: fc.array(guid, { minLength: 1, maxLength: 6 }),
  })
  .chain(({ tenants, configurations, groups }) =>
    fc.array(
      fc
        .record({
          t: fc.option(fc.constantFrom(...tenants), { freq: 4 }),
          c: fc.constantFrom(...configurations),
          g: fc.constantFrom(...groups),
        })
        .chain(({ t, c, g }) =>
          fc
            .record({
              tenant: t === null ? fc.constant(undefined) : written(t),
              configuration: written(c),
              group: written(g),
            })
            .map((w): GeneratedRow => ({
              row: { tenantId: t ?? DEFAULT_TENANT, configurationId: c, groupId: g },
              ...w,
            })),
        ),
      { minLength: 1, maxLength: 25 },
    ),
  );

/** Unique rows in first-seen order: what the readers must return. */
function expectedRows(rows: GeneratedRow[]): AssignmentRow[] {
  const seen = new Map<string, AssignmentRow>();
  for (const { row } of rows) if (!seen.has(rowKey(row))) seen.set(rowKey(row), row);
  return [...seen.values()];
}

const csvFileArb = fc
  .record({
    rows: rowsArb,
    order: fc.shuffledSubarray(['tenantId', 'configurationId', 'groupId', 'comment'], { minLength: 4, maxLength: 4 }),
    headerCase: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    quote: fc.boolean(),
    bom: fc.boolean(),
    blankLines: fc.boolean(),
    trailingEol: fc.boolean(),
    comment: fc.string({ maxLength: 12 }),
  })
  .map((f) => {
    const cell = (text: string) => (f.quote || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
    const header = f.order
      .map((name) => [...name].map((ch, i) => (f.headerCase[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''))
      .join(',');
    const lines = f.rows.map((r) => {
      const values: Record<string, string> = {
        tenantId: r.tenant ?? '',
        configurationId: r.configuration,
        groupId: r.group,
        comment: f.comment,
      };
      return f.order.map((name) => cell(values[name]!)).join(',');
    });
    const body =
      [header, ...lines.flatMap((l) => (f.blankLines ? [l, ''] : [l]))].join(f.eol) + (f.trailingEol ? f.eol : '');
    return { content: (f.bom ? '\uFEFF' : '') + body, rows: f.rows };
  });

const jsonFileArb = fc
  .record({
    rows: rowsArb,
    indent: fc.constantFrom(0, 1, 2, '\t'),
    nullTenant: fc.boolean(),
    extra: fc.jsonValue({ maxDepth: 2 }),
  })
  .map((f) => {
    const items = f.rows.map((r) => ({
      ...(r.tenant === undefined ? (f.nullTenant ? { tenantId: null } : {}) : { tenantId: r.tenant }),
      groupId: r.group,
      note: f.extra,
      configurationId: r.configuration,
    }));
    return { content: JSON.stringify(items, null, f.indent), rows: f.rows };
  });

/** What the readers may do with any input: rows of normalized GUIDs, or a UserError for bad input. */
async function expectRowsOrInputError(read: () => Promise<{ rows: Iterable<AssignmentRow> }>): Promise<void> {
  let result: { rows: Iterable<AssignmentRow> };
  try {
    result = await read();
  } catch (error) {
    expect(error, String((error as Error)?.stack ?? error)).toBeInstanceOf(UserError);
    expect(INPUT_CODES).toContain((error as UserError).code);
    expect((error as UserError).exitCode).toBe(2);
    return;
  }
  for (const row of result.rows) {
    expect(row.tenantId).toMatch(NORMALIZED);
    expect(row.configurationId).toMatch(NORMALIZED);
    expect(row.groupId).toMatch(NORMALIZED);
  }
}

async function expectInvalid(read: () => Promise<unknown>): Promise<UserError> {
  const error = await read().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).code).toBe(ErrorCodes.INPUT_INVALID);
  return error as UserError;
}

// --- properties -------------------------------------------------------------------------------

describe('rollout intake under generated input', () => {
  it('reads every valid CSV back as its unique normalized rows, in first-seen order, both readers alike', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvFileArb,
        fc.constantFrom('.csv', '.CSV', '.txt', ''),
        async ({ content, rows }, extension) => {
          const path = writeInput(content, extension);
          const want = expectedRows(rows);
          const read = await readRolloutFile(path, { defaultTenantId: DEFAULT_TENANT });
          expect(read.format).toBe('csv');
          expect(read.rows).toEqual(want);
          expect(read.inputRows).toBe(rows.length);
          expect(read.duplicateRows).toBe(rows.length - want.length);
          const scanned = await scanRolloutFile(path, { defaultTenantId: DEFAULT_TENANT });
          expect([...scanned.rows]).toEqual(want);
          expect(scanned.duplicateRows).toBe(read.duplicateRows);
        },
      ),
      { numRuns: 150, ...seed },
    );
  });

  it('reads every valid JSON array back as its unique normalized rows, by extension or sniffed', async () => {
    await fc.assert(
      fc.asyncProperty(jsonFileArb, fc.constantFrom('.json', '.JSON', ''), async ({ content, rows }, extension) => {
        const path = writeInput(content, extension);
        const want = expectedRows(rows);
        const read = await readRolloutFile(path, { defaultTenantId: DEFAULT_TENANT });
        expect(read.format).toBe('json');
        expect(read.rows).toEqual(want);
        expect(read.inputRows).toBe(rows.length);
        expect([...(await scanRolloutFile(path, { defaultTenantId: DEFAULT_TENANT })).rows]).toEqual(want);
      }),
      { numRuns: 150, ...seed },
    );
  });

  it('reads stdin (`-`) exactly as the same bytes in a file, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(csvFileArb, jsonFileArb),
        fc.integer({ min: 1, max: 64 }),
        async ({ content, rows }, chunk) => {
          const bytes = Buffer.from(content, 'utf8');
          const chunks: Buffer[] = [];
          for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
          const read = await readRolloutFile('-', { defaultTenantId: DEFAULT_TENANT, stdin: Readable.from(chunks) });
          expect(read.rows).toEqual(expectedRows(rows));
        },
      ),
      { numRuns: 100, ...seed },
    );
  });

  it('refuses a valid file with one bad id anywhere, naming that line, whichever reader', async () => {
    const badId = fc.oneof(
      fc.string({ maxLength: 40 }).filter((s) => s.trim() !== '' && !NORMALIZED.test(s.trim().toLowerCase())),
      guid.map((g) => g.slice(1)),
      guid.map((g) => g.replaceAll('-', '')),
      guid.map((g) => `{${g}}`),
      guid.map((g) => `${g.slice(0, -1)}g`),
    );
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        fc.nat(),
        fc.constantFrom('configurationId', 'groupId', 'tenantId'),
        badId,
        async (rows, at, field, bad) => {
          const index = at % rows.length;
          const lines = rows.map((r, i) => {
            const values = { tenantId: r.tenant ?? '', configurationId: r.configuration, groupId: r.group };
            if (i === index) values[field as keyof typeof values] = bad;
            return [values.tenantId, values.configurationId, values.groupId]
              .map((v) => `"${v.replaceAll('"', '""')}"`)
              .join(',');
          });
          const path = writeInput(['tenantId,configurationId,groupId', ...lines].join('\n') + '\n', '.csv');
          // Quoted fields may span lines, so the bad row's line is counted from the text before it.
          const line =
            2 +
            lines
              .slice(0, index)
              .join('\n')
              .split(/\r\n|\r|\n/).length -
            (index === 0 ? 1 : 0);
          const error = await expectInvalid(() => readRolloutFile(path, { defaultTenantId: DEFAULT_TENANT }));
          expect(error.details.join('\n')).toContain(`:${line}: `);
          await expectInvalid(() => scanRolloutFile(path, { defaultTenantId: DEFAULT_TENANT }));

          const items = rows.map((r, i) => ({
            tenantId: i === index && field === 'tenantId' ? bad : (r.tenant ?? null),
            configurationId: i === index && field === 'configurationId' ? bad : r.configuration,
            groupId: i === index && field === 'groupId' ? bad : r.group,
          }));
          const jsonPath = writeInput(JSON.stringify(items, null, 1), '.json');
          await expectInvalid(() => readRolloutFile(jsonPath, { defaultTenantId: DEFAULT_TENANT }));
          await expectInvalid(() => scanRolloutFile(jsonPath, { defaultTenantId: DEFAULT_TENANT }));
        },
      ),
      { numRuns: 150, ...seed },
    );
  });

  it('never lets arbitrary bytes out as anything but GUID rows or E_INPUT_INVALID/E_INPUT_UNREADABLE', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s, 'utf8')),
      fc
        .string({
          unit: fc.constantFrom(...'[]{}",:\\\n\r 0123456789abcdef-tenantIdgroupIdconfigurationIdnull'.split('')),
          maxLength: 300,
        })
        .map((s) => Buffer.from(s, 'utf8')),
    );
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.constantFrom('.csv', '.json', ''),
        fc.option(fc.constant(DEFAULT_TENANT)),
        async (content, extension, tenant) => {
          const path = writeInput(content, extension);
          const options = tenant === null ? {} : { defaultTenantId: tenant };
          await expectRowsOrInputError(() => readRolloutFile(path, options));
          await expectRowsOrInputError(() => scanRolloutFile(path, options));
        },
      ),
      { numRuns: 400, ...seed },
    );
  });

  it('never lets a damaged valid file out as anything but GUID rows or an input error', async () => {
    // Mutations of well-formed files reach far deeper into the parsers than random bytes do.
    const damaged = fc
      .record({
        file: fc.oneof(csvFileArb, jsonFileArb),
        cuts: fc.array(
          fc.record({ at: fc.nat(), drop: fc.nat({ max: 8 }), insert: fc.string({ unit: 'binary', maxLength: 6 }) }),
          { minLength: 1, maxLength: 4 },
        ),
      })
      .map(({ file, cuts }) => {
        let text = file.content;
        for (const c of cuts) {
          const at = c.at % (text.length + 1);
          text = text.slice(0, at) + c.insert + text.slice(at + c.drop);
        }
        return text;
      });
    await fc.assert(
      fc.asyncProperty(damaged, fc.constantFrom('.csv', '.json', ''), async (content, extension) => {
        const path = writeInput(content, extension);
        await expectRowsOrInputError(() => readRolloutFile(path, { defaultTenantId: DEFAULT_TENANT }));
        await expectRowsOrInputError(() => scanRolloutFile(path, {}));
      }),
      { numRuns: 400, ...seed },
    );
  });

  it('reports a missing, directory or unreadable path as E_INPUT_UNREADABLE', async () => {
    for (const path of [join(dir, 'no-such-file.csv'), dir]) {
      const error = await readRolloutFile(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).code).toBe(ErrorCodes.INPUT_UNREADABLE);
    }
  });
});

/**
 * The same promise through the real CLI: one invalid row anywhere in an otherwise good file and
 * `enqueue` exits 2 with nothing written under the prefix. A few dozen runs, each one process.
 */
describe('enqueue of a file with one invalid row anywhere', () => {
  const stack = useStack();

  it('exits 2 with E_INPUT_INVALID and leaves Redis without a rollout', async () => {
    const bad = fc.constantFrom(
      'not-a-guid',
      '',
      '12345678-1234-1234-1234-12345678901',
      '{6f1c2a8e-3b7d-4c9a-9e21-5d4b8a7c0f13}',
      'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
      '"',
      '../../x',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        fc.constantFrom('configurationId', 'groupId', 'tenantId'),
        bad,
        fc.constantFrom('csv', 'json'),
        async (count, at, field, value, format) => {
          const index = at % count;
          const rows = Array.from({ length: count }, (_, i) => {
            const row: Record<string, string> = {
              tenantId: stack.tenantId,
              configurationId: randomUUID(),
              groupId: randomUUID(),
            };
            if (i === index) row[field] = value;
            return row;
          });
          const content =
            format === 'json'
              ? JSON.stringify(rows)
              : [
                  'tenantId,configurationId,groupId',
                  ...rows.map((r) =>
                    [r.tenantId, r.configurationId, r.groupId].map((v) => `"${v!.replaceAll('"', '""')}"`).join(','),
                  ),
                ].join('\n');
          const path = join(stack.dir, `one-bad-${randomUUID().slice(0, 8)}.${format}`);
          writeFileSync(path, content);
          // An empty tenant with no AZURE_TENANT_ID is invalid too; keep the variable unset for that.
          const run = await stack.cli(['enqueue', path, '--json'], { env: { AZURE_TENANT_ID: '' } });
          expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
          expect(run.stderr).toContain(`error ${ErrorCodes.INPUT_INVALID}:`);
          expect(run.stderr).not.toMatch(/^\s+at /m);
          expect(await stack.redis.keys(`${stack.prefix}:*`)).toEqual([]);
        },
      ),
      { numRuns: 24, ...seed },
    );
  });
});

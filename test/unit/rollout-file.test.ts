import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { UserError } from '../../lib/errors/user-error.js';
import { readRolloutFile, type RolloutFileOptions } from '../../producer/rollout-file.js';
import { rolloutRows } from '../../producer/rollout-rows.js';

const T1 = '11111111-1111-1111-1111-111111111111';
const T2 = '22222222-2222-2222-2222-222222222222';
/** A distinct, valid object id per number (lower case). */
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const C1 = id(0xc1);
const C2 = id(0xc2);
const G1 = id(0x91);
const G2 = id(0x92);
const MiB = 1024 * 1024;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollout-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Reads expecting E_INPUT_INVALID and returns the error, so tests can assert its detail lines. */
async function problemsOf(path: string, options?: RolloutFileOptions): Promise<UserError> {
  const err: unknown = await readRolloutFile(path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  const userError = err as UserError;
  expect(userError.code).toBe(ErrorCodes.INPUT_INVALID);
  expect(userError.exitCode).toBe(2);
  return userError;
}

describe('CSV input', () => {
  it('reads columns in any order, ignores extra columns, handles quotes, CRLF and a BOM, and lower-cases ids', async () => {
    const path = await file(
      'happy.csv',
      '\uFEFF"groupId", Note ,TENANTID,ConfigurationId\r\n' +
        `${G1.toUpperCase()},"a note, with a comma",${T1},"${C1.toUpperCase()}"\r\n` +
        `"${G2}","say ""hi""",${T2.toUpperCase()},${C2}\r\n`,
    );
    const input = await readRolloutFile(path);
    expect(input).toEqual({
      rows: [
        { tenantId: T1, configurationId: C1, groupId: G1 },
        { tenantId: T2, configurationId: C2, groupId: G2 },
      ],
      lines: [2, 3],
      inputRows: 2,
      duplicateRows: 0,
      format: 'csv',
    });
  });

  it('uses the default tenant when tenantId is absent or empty', async () => {
    const withoutColumn = await file('default-1.csv', `configurationId,groupId\n${C1},${G1}\n`);
    const withEmptyCell = await file(
      'default-2.csv',
      `configurationId,groupId,tenantId\n${C1},${G1},\n${C2},${G2}, ${T2} \n`,
    );
    const options = { defaultTenantId: T1.toUpperCase() };
    expect((await readRolloutFile(withoutColumn, options)).rows).toEqual([
      { tenantId: T1, configurationId: C1, groupId: G1 },
    ]);
    expect((await readRolloutFile(withEmptyCell, options)).rows).toEqual([
      { tenantId: T1, configurationId: C1, groupId: G1 },
      { tenantId: T2, configurationId: C2, groupId: G2 },
    ]);
  });

  it('refuses a row without tenantId when there is no default tenant', async () => {
    const path = await file('no-tenant.csv', `configurationId,groupId,tenantId\n${C1},${G1},${T1}\n${C2},${G2},\n`);
    const err = await problemsOf(path);
    expect(err.details).toEqual([`${path}:3: no tenantId and AZURE_TENANT_ID is not set`]);
  });

  it('collapses duplicate rows, keeping the first and counting the rest', async () => {
    const path = await file(
      'dupes.csv',
      'configurationId,groupId,tenantId\n' +
        `${C1},${G1},${T1}\n` +
        `${C2},${G1},${T1}\n` +
        `${C1.toUpperCase()},${G1},${T1}\n` + // same ids, other case
        `${C1},${G1},\n`, // same tenant, by default
    );
    const input = await readRolloutFile(path, { defaultTenantId: T1 });
    expect(input.rows).toEqual([
      { tenantId: T1, configurationId: C1, groupId: G1 },
      { tenantId: T1, configurationId: C2, groupId: G1 },
    ]);
    expect(input.lines).toEqual([2, 3]);
    expect(input.inputRows).toBe(4);
    expect(input.duplicateRows).toBe(2);
  });

  it('reports every bad row with the line it starts on, after multi-line quoted fields and blank lines', async () => {
    const path = await file(
      'bad-rows.csv',
      'configurationId,groupId,tenantId,note\r\n' + // 1
        `${C1},${G1},${T1},"first line\r\nsecond line\r\nthird line"\r\n` + // 2-4, fine
        `${C1},abc,${T1},x\r\n` + // 5
        '\r\n' + // 6, blank: skipped
        `not-a-guid,${G1},${T1},"one\ntwo"\r\n` + // 7-8
        `${C2},${G2},zzz\r\n` + // 9
        `${C2}\r\n` + // 10, short row
        `${C2},,${T1}\r\n` + // 11
        ',,,\r\n' + // 12, all blank: skipped
        `bad,worse,${T1}\n`, // 13
    );
    const err = await problemsOf(path);
    expect(err.message).toBe(`${path}: 8 problem(s), nothing was enqueued`);
    expect(err.details).toEqual([
      `${path}:5: groupId "abc" is not an object id (GUID)`,
      `${path}:7: configurationId "not-a-guid" is not an object id (GUID)`,
      `${path}:9: tenantId "zzz" is not an object id (GUID)`,
      `${path}:10: missing groupId`,
      `${path}:10: no tenantId and AZURE_TENANT_ID is not set`,
      `${path}:11: groupId is empty`,
      `${path}:13: configurationId "bad" is not an object id (GUID)`,
      `${path}:13: groupId "worse" is not an object id (GUID)`,
    ]);
  });

  it('accepts mixed line endings in one file', async () => {
    const path = await file('mixed.csv', `configurationId,groupId\r\n${C1},${G1}\n${C2},${G2}\r${C1},${G2}\n`);
    const input = await readRolloutFile(path, { defaultTenantId: T1 });
    expect(input.rows.map((r) => r.groupId)).toEqual([G1, G2, G2]);
    expect(input.lines).toEqual([2, 3, 4]);
  });

  it('names a missing column and what the header has', async () => {
    const one = await file('missing-1.csv', `configurationId,group\n${C1},${G1}\n`);
    const both = await file('missing-2.csv', `${C1},${G1}\n`);
    expect((await problemsOf(one)).details).toEqual([
      `${one}:1: missing column groupId (header has: configurationId, group)`,
    ]);
    expect((await problemsOf(both)).details).toEqual([
      `${both}:1: missing columns configurationId, groupId (header has: ${C1}, ${G1})`,
    ]);
  });

  it('matches header names case-insensitively and trimmed, and refuses a column given twice', async () => {
    const path = await file('header-twice.csv', `groupid,configurationId, GroupId \n${G1},${C1},${G2}\n`);
    expect((await problemsOf(path)).details).toEqual([
      `${path}:1: column groupId appears more than once in the header`,
    ]);
  });

  it('reports an empty file, a whitespace-only file and a header without rows', async () => {
    const empty = await file('empty.csv', '');
    const blank = await file('blank.csv', '\n  \r\n\n');
    const headerOnly = await file('header-only.csv', 'configurationId,groupId\r\n');
    const reason = 'file is empty (expected a header row with configurationId,groupId)';
    expect((await problemsOf(empty)).details).toEqual([`${empty}:1: ${reason}`]);
    expect((await problemsOf(blank)).details).toEqual([`${blank}:1: ${reason}`]);
    expect((await problemsOf(headerOnly)).details).toEqual([`${headerOnly}:1: no rows after the header`]);
  });

  it('stops at a CSV syntax error, naming the line where the record starts', async () => {
    const unclosed = await file('unclosed.csv', `configurationId,groupId\n${C1},abc\n${C2},"${G2}\n${C1},${G1}\n`);
    const err = await problemsOf(unclosed, { defaultTenantId: T1 });
    expect(err.details).toEqual([
      `${unclosed}:2: groupId "abc" is not an object id (GUID)`,
      `${unclosed}:3: a quoted field is not closed before the end of the file`,
    ]);
    const stray = await file('stray-quote.csv', `configurationId,groupId\n${C1},"${G1}"x\n`);
    expect((await problemsOf(stray, { defaultTenantId: T1 })).details).toEqual([
      `${stray}:2: text after the closing quote of a field (inside quotes, write a quote as "")`,
    ]);
    const inner = await file('inner-quote.csv', `configurationId,groupId\n${C1},ab"c\n`);
    expect((await problemsOf(inner, { defaultTenantId: T1 })).details).toEqual([
      `${inner}:2: a quote inside an unquoted field (quote the whole field and write the quote as "")`,
    ]);
  });

  it('still reports the rows before a syntax error that arrive in the same chunk', async () => {
    const lines = ['configurationId,groupId'];
    for (let n = 2; n <= 400; n++) {
      if (n === 100) lines.push(`${C1},bad`);
      else if (n === 300) lines.push(`${C1},"${G1}"x`);
      else lines.push(`${C1},${id(n)}`);
    }
    const path = await file('late-syntax.csv', lines.join('\n'));
    expect((await problemsOf(path, { defaultTenantId: T1 })).details).toEqual([
      `${path}:100: groupId "bad" is not an object id (GUID)`,
      `${path}:300: text after the closing quote of a field (inside quotes, write a quote as "")`,
    ]);
  });

  it('caps a record spanning several lines as well as each line', async () => {
    // Line 2 is 95 bytes and line 3 is 21, but the record they make holds 113 characters.
    const path = await file(
      'long-record.csv',
      `configurationId,groupId,note\n${C1},${G1},"${'a'.repeat(20)}\n${'b'.repeat(20)}"\n`,
    );
    expect((await problemsOf(path, { defaultTenantId: T1, maxLineBytes: 100 })).details).toEqual([
      `${path}:2: record longer than 100 characters`,
    ]);
  });
});

describe('JSON input', () => {
  it('reads an array of objects, naming the line each item starts on', async () => {
    const path = await file(
      'happy.json',
      JSON.stringify(
        [
          { configurationId: C1.toUpperCase(), groupId: G1, tenantId: T2 },
          { groupId: G2, configurationId: C2, note: 'extra keys are ignored' },
          { configurationId: C1, groupId: G2, tenantId: null },
          { configurationId: C1, groupId: G2, tenantId: '' },
        ],
        null,
        2,
      ),
    );
    const input = await readRolloutFile(path, { defaultTenantId: T1 });
    expect(input).toEqual({
      rows: [
        { tenantId: T2, configurationId: C1, groupId: G1 },
        { tenantId: T1, configurationId: C2, groupId: G2 },
        { tenantId: T1, configurationId: C1, groupId: G2 },
      ],
      lines: [2, 7, 12],
      inputRows: 4,
      duplicateRows: 1,
      format: 'json',
    });
  });

  it('reads compact JSON on one line, with a BOM and CRLF', async () => {
    const path = await file(
      'compact.json',
      `\uFEFF[{"configurationId":"${C1}","groupId":"${G1}"},\r\n{"configurationId":"${C2}","groupId":"${G2}"}]\r\n`,
    );
    const input = await readRolloutFile(path, { defaultTenantId: T1 });
    expect(input.lines).toEqual([1, 2]);
    expect(input.rows).toHaveLength(2);
  });

  it('reports a document that is not an array', async () => {
    const object = await file('object.json', `{\n  "rows": []\n}\n`);
    const text = await file('text.json', 'hello');
    const shape = 'expected a JSON array of {configurationId, groupId, tenantId?}';
    expect((await problemsOf(object)).details).toEqual([`${object}:1: ${shape}`]);
    expect((await problemsOf(text)).details).toEqual([`${text}:1: ${shape}`]);
  });

  it('reports items of the wrong shape, each on its own line, and carries on', async () => {
    const path = await file(
      'shapes.json',
      [
        '[', // 1
        `  {"configurationId": "${C1}", "groupId": "${G1}"},`, // 2
        '  "just a string",', // 3
        '  42, null, [1, 2],', // 4
        `  {"configurationId": 7, "groupId": "${G1}"},`, // 5
        `  {"configurationId": "${C1}", "groupId": ["${G1}"], "tenantId": true},`, // 6
        `  {"groupId": "${G2}"},`, // 7
        '  {',
        `    "configurationId": "${C1}",`,
        `    "groupId": "${G1}",`, // 10
        '    "tenantId": "nope"',
        '  }',
        ']',
      ].join('\n'),
    );
    const err = await problemsOf(path, { defaultTenantId: T1 });
    expect(err.details).toEqual([
      `${path}:3: item 2 is not an object`,
      `${path}:4: item 3 is not an object`,
      `${path}:4: item 4 is not an object`,
      `${path}:4: item 5 is not an object`,
      `${path}:5: item 6: configurationId is not a string (got number)`,
      `${path}:6: item 7: groupId is not a string (got array)`,
      `${path}:6: item 7: tenantId is not a string (got boolean)`,
      `${path}:7: item 8: missing configurationId`,
      `${path}:8: item 9: tenantId "nope" is not an object id (GUID)`,
    ]);
  });

  it('reports a syntax error inside an item on the line it occurs, then reads on', async () => {
    const path = await file(
      'syntax.json',
      [
        '[',
        '  {',
        `    "configurationId": "${C1}",`,
        `    "groupId": "${G1}",`,
        '  },',
        `  {"configurationId": "${C2}", "groupId": "x"}`,
        ']',
      ].join('\n'),
    );
    const err = await problemsOf(path, { defaultTenantId: T1 });
    expect(err.details).toHaveLength(2);
    expect(err.details[0]).toMatch(new RegExp(`^${escape(path)}:5: item 1: invalid JSON \\(.+\\)$`));
    expect(err.details[1]).toBe(`${path}:6: item 2: groupId "x" is not an object id (GUID)`);
  });

  it('reports broken array punctuation, an unclosed array and an empty array', async () => {
    const row = `{"configurationId": "${C1}", "groupId": "${G1}"}`;
    const cases: [string, string, string][] = [
      ['trailing-comma.json', `[\n${row},\n]`, '3: invalid JSON (a comma after item 1 and no item follows)'],
      ['no-comma.json', `[\n${row}\n${row}]`, '3: invalid JSON (expected "," or "]" after item 1, found "{")'],
      ['unclosed.json', `[\n${row},\n${row}\n`, '4: invalid JSON (the file ends before the array is closed)'],
      ['unclosed-item.json', `[\n${row},\n{"groupId": "x"\n`, '3: item 2 is not closed before the end of the file'],
      ['after.json', `[${row}]\n[]`, '2: invalid JSON (text after the closing "]")'],
      ['empty-array.json', ' [ ] ', '1: the array is empty (no rows)'],
      ['empty.json', '', '1: file is empty (expected a JSON array of {configurationId, groupId, tenantId?})'],
    ];
    for (const [name, content, detail] of cases) {
      const path = await file(name, content);
      expect((await problemsOf(path, { defaultTenantId: T1 })).details, name).toEqual([`${path}:${detail}`]);
    }
  });
});

describe('format', () => {
  it('follows the extension in any case, otherwise the first non-whitespace character', async () => {
    const json = JSON.stringify([{ configurationId: C1, groupId: G1 }]);
    const csv = `configurationId,groupId\n${C1},${G1}\n`;
    const options = { defaultTenantId: T1 };
    expect((await readRolloutFile(await file('upper.JSON', json), options)).format).toBe('json');
    expect((await readRolloutFile(await file('sniffed-json.txt', `\uFEFF \n\t${json}`), options)).format).toBe('json');
    expect((await readRolloutFile(await file('sniffed-csv', csv), options)).format).toBe('csv');
    // The extension wins over the content.
    const csvNamedJson = await file('really-csv.json', csv);
    expect((await problemsOf(csvNamedJson, options)).details).toEqual([
      `${csvNamedJson}:1: expected a JSON array of {configurationId, groupId, tenantId?}`,
    ]);
  });
});

describe('stdin', () => {
  it('reads `-` from options.stdin, sniffing the format, and names it stdin', async () => {
    const csv = Readable.from([Buffer.from(`configurationId,groupId\n${C1},`), Buffer.from(`${G1}\n`)]);
    const input = await readRolloutFile('-', { stdin: csv, defaultTenantId: T1 });
    expect(input).toMatchObject({
      format: 'csv',
      rows: [{ tenantId: T1, configurationId: C1, groupId: G1 }],
      lines: [2],
    });

    const json = Readable.from([`  [{"configurationId": "${C1}", "groupId": "${G1}"}]`]);
    expect((await readRolloutFile('-', { stdin: json, defaultTenantId: T1 })).format).toBe('json');

    const bad = Readable.from([`configurationId,groupId\n${C1},nope\n`]);
    const err = await problemsOf('-', { stdin: bad, defaultTenantId: T1 });
    expect(err.message).toBe('stdin: 1 problem(s), nothing was enqueued');
    expect(err.details).toEqual(['stdin:2: groupId "nope" is not an object id (GUID)']);
  });

  it('reads JSON fed one byte at a time, multi-byte characters included', async () => {
    const text = `\uFEFF[\r\n {"note": "café ✓ 😀", "configurationId": "${C1}", "groupId": "${G1}"},\r\n {"configurationId": "${C2}", "groupId": "ü"}]`;
    const bytes = Buffer.from(text);
    const oneByOne = Readable.from(Array.from(bytes, (b) => Buffer.from([b])));
    const err = await problemsOf('-', { stdin: oneByOne, defaultTenantId: T1 });
    expect(err.details).toEqual(['stdin:3: item 2: groupId "ü" is not an object id (GUID)']);
  });

  it('gives the same lines whatever the chunking', async () => {
    const text = `configurationId,groupId,n\r\n${C1},${G1},"a\r\nb"\r\n${C2},bad,x\r\n`;
    const err = await problemsOf('-', {
      stdin: Readable.from(text.split('').map((c) => Buffer.from(c))),
      defaultTenantId: T1,
    });
    expect(err.details).toEqual(['stdin:4: groupId "bad" is not an object id (GUID)']);
  });
});

describe('problem cap', () => {
  it('shows 50 problems, then one line counting the rest', async () => {
    const lines = ['configurationId,groupId'];
    for (let i = 0; i < 120; i++) lines.push(`${C1},bad${i}`);
    const path = await file('many.csv', lines.join('\n'));
    const err = await problemsOf(path, { defaultTenantId: T1 });
    expect(err.message).toBe(`${path}: 120 problem(s), nothing was enqueued`);
    expect(err.details).toHaveLength(51);
    expect(err.details[0]).toBe(`${path}:2: groupId "bad0" is not an object id (GUID)`);
    expect(err.details[49]).toBe(`${path}:51: groupId "bad49" is not an object id (GUID)`);
    expect(err.details[50]).toBe('… and 70 more problems');
  });
});

describe('hostile input', () => {
  it('reports a 2 MB line by its number, with the problems before it', async () => {
    const csv = await file(
      'long.csv',
      `configurationId,groupId\n${C1},bad\n${C1},${'x'.repeat(2 * MiB)}\n${C1},${G1}\n`,
    );
    expect((await problemsOf(csv, { defaultTenantId: T1 })).details).toEqual([
      `${csv}:2: groupId "bad" is not an object id (GUID)`,
      `${csv}:3: longer than 1048576 bytes`,
    ]);
  });

  it('caps JSON items rather than JSON lines, since compact JSON puts every row on one line', async () => {
    const huge = await file('long.json', `[\n{"configurationId": "${C1}", "groupId": "${'x'.repeat(2 * MiB)}"}\n]`);
    expect((await problemsOf(huge, { defaultTenantId: T1 })).details).toEqual([
      `${huge}:2: item 1 is longer than 1048576 bytes`,
    ]);

    const rows = Array.from({ length: 20_000 }, (_, i) => ({ configurationId: C1, groupId: id(i) }));
    const compact = await file('compact-big.json', JSON.stringify(rows));
    const input = await readRolloutFile(compact, { defaultTenantId: T1 });
    expect(input.rows).toHaveLength(20_000);
    expect(new Set(input.lines)).toEqual(new Set([1]));
  });

  it('honours maxLineBytes', async () => {
    const path = await file('short-limit.csv', `configurationId,groupId\n${C1},${G1}\n`);
    expect((await problemsOf(path, { defaultTenantId: T1, maxLineBytes: 40 })).details).toEqual([
      `${path}:2: longer than 40 bytes`,
    ]);
  });

  it('refuses binary data and text that is not UTF-8', async () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    const binary = await file('garbage.csv', bytes);
    expect((await problemsOf(binary)).details).toEqual([`${binary}:1: not a text file (binary data)`]);

    const binaryJson = await file('garbage.json', Buffer.concat([Buffer.from('[\n'), bytes]));
    expect((await problemsOf(binaryJson)).details).toEqual([`${binaryJson}:2: not a text file (binary data)`]);

    const latin1 = await file(
      'latin1.csv',
      Buffer.from(`configurationId,groupId,note\n${C1},${G1},ok\n${C1},${G2},caf\xe9\n`, 'latin1'),
    );
    expect((await problemsOf(latin1, { defaultTenantId: T1 })).details).toEqual([
      `${latin1}:3: not a text file (binary data)`,
    ]);

    const utf16 = await file(
      'utf16.csv',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`configurationId,groupId\n`, 'utf16le')]),
    );
    expect((await problemsOf(utf16)).details).toEqual([`${utf16}:1: file is UTF-16 text; save it as UTF-8`]);
  });
});

describe('unreadable input', () => {
  it('reports a missing file and a directory as E_INPUT_UNREADABLE', async () => {
    const missing = join(dir, 'nope.csv');
    await expect(readRolloutFile(missing)).rejects.toMatchObject({
      code: ErrorCodes.INPUT_UNREADABLE,
      message: `${missing}: cannot read (ENOENT)`,
      exitCode: 2,
    });
    const directory = join(dir, 'a-directory.csv');
    await mkdir(directory);
    await expect(readRolloutFile(directory)).rejects.toMatchObject({
      code: ErrorCodes.INPUT_UNREADABLE,
      message: `${directory}: cannot read (EISDIR)`,
    });
  });
});

describe('rolloutRows', () => {
  it('yields rows and problems in file order, without collecting or de-duplicating', async () => {
    const source = Readable.from([`configurationId,groupId\n${C1},${G1}\n${C1},x\n${C1},${G1}\n`]);
    const events = [];
    for await (const event of rolloutRows(source, { format: 'csv', defaultTenantId: T1 })) events.push(event);
    expect(events).toEqual([
      { line: 2, row: { tenantId: T1, configurationId: C1, groupId: G1 } },
      { line: 3, problem: 'groupId "x" is not an object id (GUID)' },
      { line: 4, row: { tenantId: T1, configurationId: C1, groupId: G1 } },
    ]);
  });
});

describe('a 100,000-row file', () => {
  it('is read in full with exact counts', async () => {
    const total = 100_000;
    const parts = ['tenantId,configurationId,groupId\n'];
    // Every 10th row repeats the row before it, so 10,000 are duplicates.
    for (let i = 0; i < total; i++) {
      const n = i % 10 === 9 ? i - 1 : i;
      parts.push(`${T1},${id(n % 500)},${id(1_000_000 + n)}\n`);
    }
    const path = await file('big.csv', parts.join(''));
    const input = await readRolloutFile(path);
    expect(input.inputRows).toBe(total);
    expect(input.duplicateRows).toBe(10_000);
    expect(input.rows).toHaveLength(90_000);
    expect(input.lines[0]).toBe(2);
    expect(input.lines.at(-1)).toBe(total); // row i is on line i + 2; the last kept row is i = 99,998
    expect(input.rows.at(-1)).toEqual({ tenantId: T1, configurationId: id(99_998 % 500), groupId: id(1_099_998) });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

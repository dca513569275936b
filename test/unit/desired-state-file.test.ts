import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { UserError } from '../../lib/errors/user-error.js';
import { desiredStateCounts, parseDesiredState, readDesiredStateFile } from '../../producer/desired-state-file.js';
import { MAX_PROBLEM_LINES } from '../../producer/input-problems.js';

const T1 = '11111111-1111-1111-1111-111111111111';
const T2 = '22222222-2222-2222-2222-222222222222';
/** A distinct, valid object id per number (lower case). */
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const C1 = id(0xc1);
const C2 = id(0xc2);
const G1 = id(0xa1);
const G2 = id(0xa2);
const G3 = id(0xa3);

/** Lines joined with LF, so each test can count the line a problem is on. */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** A valid file with one tenant and one configuration, for tests that break one thing in it. */
const oneConfiguration = (groups = `[${G1}]`): string =>
  yaml(
    'tenants:', //                       1
    `  - tenantId: ${T1}`, //            2
    '    configurations:', //            3
    `      - configurationId: ${C1}`, // 4
    `        groups: ${groups}`, //      5
  );

/** Parses expecting E_INPUT_INVALID (exit 2) and returns the error, so tests can assert its detail lines. */
function problemsOf(text: string, source = 'desired.yaml'): UserError {
  let thrown: unknown;
  try {
    parseDesiredState(text, source);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UserError);
  const userError = thrown as UserError;
  expect(userError.code).toBe(ErrorCodes.INPUT_INVALID);
  expect(userError.exitCode).toBe(2);
  expect(userError.message).toMatch(/^.+: \d+ problem\(s\), nothing was done$/);
  for (const line of userError.details) expect(line).not.toMatch(/^\s+at /m);
  return userError;
}

describe('reading a valid desired state', () => {
  it('reads YAML, lower-cases every id, collapses repeated groups keeping first-appearance order, and keeps an empty group list', () => {
    const state = parseDesiredState(
      yaml(
        '# desired assignments',
        'tenants:',
        `  - tenantId: ${T1.toUpperCase()}`,
        '    configurations:',
        `      - configurationId: "${C1.toUpperCase()}"`,
        `        groups: [${G2}, ${G1.toUpperCase()}, ${G2.toUpperCase()}, ' ${G1} ', ${G3}]`,
        `      - configurationId: ${C2}`,
        '        groups: []',
        `  - tenantId: ${T2}`,
        '    configurations: []',
      ),
      'desired.yaml',
    );
    expect(state).toEqual({
      tenants: [
        {
          tenantId: T1,
          configurations: [
            { configurationId: C1, groups: [G2, G1, G3] },
            { configurationId: C2, groups: [] },
          ],
        },
        { tenantId: T2, configurations: [] },
      ],
    });
    expect(desiredStateCounts(state)).toEqual({ tenants: 2, configurations: 2, groups: 3 });
  });

  it('reads JSON with the same parser and the same normalization', () => {
    const text = JSON.stringify(
      {
        tenants: [
          { tenantId: T1.toUpperCase(), configurations: [{ configurationId: C1, groups: [G1, G1.toUpperCase(), G2] }] },
        ],
      },
      null,
      2,
    );
    expect(parseDesiredState(text, 'desired.json')).toEqual({
      tenants: [{ tenantId: T1, configurations: [{ configurationId: C1, groups: [G1, G2] }] }],
    });
  });

  it('lets one group list be shared through a YAML anchor and alias', () => {
    const state = parseDesiredState(
      yaml(
        'tenants:',
        `  - tenantId: ${T1}`,
        '    configurations:',
        `      - { configurationId: ${C1}, groups: &standard [${G1}, ${G2}] }`,
        `      - { configurationId: ${C2}, groups: *standard }`,
      ),
      'desired.yaml',
    );
    expect(state.tenants[0]?.configurations.map((c) => c.groups)).toEqual([
      [G1, G2],
      [G1, G2],
    ]);
  });

  it('accepts the same configuration in two different tenants', () => {
    const text = yaml(
      'tenants:',
      `  - { tenantId: ${T1}, configurations: [ { configurationId: ${C1}, groups: [] } ] }`,
      `  - { tenantId: ${T2}, configurations: [ { configurationId: ${C1}, groups: [] } ] }`,
    );
    expect(desiredStateCounts(parseDesiredState(text, 'desired.yaml'))).toEqual({
      tenants: 2,
      configurations: 2,
      groups: 0,
    });
  });
});

describe('refusing a file that is not a desired state', () => {
  it('refuses an empty file and a file of comments only, at line 1', () => {
    for (const text of ['', '\n\n', '# nothing yet\n']) {
      expect(problemsOf(text).details).toEqual([
        'desired.yaml:1: the file is empty; expected a mapping with a "tenants" list',
      ]);
    }
  });

  it('reports a YAML syntax error on its line, once, and checks nothing further', () => {
    // Line 2's bad id would be a problem in a file that parsed; here only the syntax is reported.
    const err = problemsOf(
      yaml(
        'tenants:',
        '  - tenantId: abc',
        '    configurations: [',
        `      { configurationId: ${C1}, groups: [] }`,
        '  oops: ]',
      ),
    );
    expect(err.message).toBe('desired.yaml: 1 problem(s), nothing was done');
    expect(err.details).toHaveLength(1);
    expect(err.details[0]).toMatch(/^desired\.yaml:5: syntax error: /);
  });

  it('reports a JSON syntax error on its line', () => {
    const err = problemsOf(
      `{\n  "tenants": [\n    { "tenantId": "${T1}" "configurations": [] }\n  ]\n}\n`,
      'desired.json',
    );
    expect(err.details[0]).toMatch(/^desired\.json:3: syntax error: /);
  });

  it('refuses a key written twice in one mapping, naming it, in YAML and in JSON', () => {
    expect(
      problemsOf(yaml('tenants:', `  - tenantId: ${T1}`, `    tenantId: ${T2}`, '    configurations: []')).details,
    ).toEqual(['desired.yaml:3: key "tenantId" is written twice in one mapping']);
    expect(problemsOf(`{"tenants": [],\n "tenants": []}`, 'desired.json').details).toEqual([
      'desired.json:2: key "tenants" is written twice in one mapping',
    ]);
  });

  it('refuses a second YAML document', () => {
    expect(problemsOf(yaml('tenants: []', '---', 'tenants: []')).details).toEqual([
      'desired.yaml:2: a second YAML document ("---"); put everything in one',
    ]);
  });

  it('refuses an alias without an anchor before it, on its line', () => {
    expect(problemsOf(yaml('tenants:', `  - tenantId: ${T1}`, '    configurations: *shared')).details).toEqual([
      'desired.yaml:3: alias *shared has no anchor &shared before it',
    ]);
  });

  it('refuses aliases that expand exponentially instead of expanding them', () => {
    const levels = Array.from(
      { length: 12 },
      (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`,
    );
    expect(problemsOf(yaml(`l0: &l0 [${G1}]`, ...levels, 'tenants: []')).details).toEqual([
      'desired.yaml:1: YAML aliases (*name) expand to too much data; write the repeated values out instead',
    ]);
  });

  it('refuses a top level that is not a mapping, saying what it is', () => {
    expect(problemsOf(yaml(`- ${T1}`)).details).toEqual([
      'desired.yaml:1: expected a mapping with a "tenants" list, got a list',
    ]);
    expect(problemsOf('just some text\n').details).toEqual([
      'desired.yaml:1: expected a mapping with a "tenants" list, got "just some text"',
    ]);
    expect(problemsOf('[]', 'desired.json').details).toEqual([
      'desired.json:1: expected a mapping with a "tenants" list, got a list',
    ]);
  });

  it('refuses a file without "tenants", and suggests the key probably meant', () => {
    expect(problemsOf(yaml('# header', 'tenant: []')).details).toEqual([
      'desired.yaml:2: missing "tenants"',
      'desired.yaml:2: unknown key "tenant" (did you mean "tenants"?)',
    ]);
  });

  it('refuses "tenants" that is not a list, naming the path and the line', () => {
    expect(problemsOf(yaml('# header', `tenants: ${T1}`)).details).toEqual([
      `desired.yaml:2: tenants: expected a list of tenants, got "${T1}"`,
    ]);
    expect(problemsOf(yaml('tenants:')).details).toEqual([
      'desired.yaml:1: tenants: expected a list of tenants, got an empty value',
    ]);
  });
});

describe('refusing bad tenants and configurations, with path and line', () => {
  it('refuses a tenant that is not a mapping', () => {
    expect(problemsOf(yaml('tenants:', `  - ${T1}`)).details).toEqual([
      `desired.yaml:2: tenants[0]: expected a mapping with "tenantId" and "configurations", got "${T1}"`,
    ]);
  });

  it('refuses a missing, non-GUID or non-string tenantId', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                           1
        '  - configurations: []', //             2
        '  - tenantId: contoso.onmicrosoft.com', // 3
        '    configurations: []', //             4
        '  - tenantId: 42', //                   5
        '    configurations: []', //             6
        '  - tenantId:', //                      7
        '    configurations: []', //             8
      ),
    );
    expect(err.details).toEqual([
      'desired.yaml:2: tenants[0]: missing "tenantId"',
      'desired.yaml:3: tenants[1].tenantId: "contoso.onmicrosoft.com" is not a GUID',
      'desired.yaml:5: tenants[2].tenantId: expected a GUID, got the number 42',
      'desired.yaml:7: tenants[3].tenantId: expected a GUID, got an empty value',
    ]);
  });

  it('refuses configurations that are missing or not a list', () => {
    const err = problemsOf(
      yaml(
        'tenants:',
        `  - tenantId: ${T1}`,
        `  - tenantId: ${T2}`,
        '    configurations:',
        `      configurationId: ${C1}`,
      ),
    );
    expect(err.details).toEqual([
      'desired.yaml:2: tenants[0]: missing "configurations"',
      'desired.yaml:4: tenants[1].configurations: expected a list of configurations, got a mapping',
    ]);
  });

  it('refuses a configuration that is not a mapping, or whose configurationId is missing or not a GUID', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                       1
        `  - tenantId: ${T1}`, //            2
        '    configurations:', //            3
        `      - ${C1}`, //                  4
        '      - groups: []', //             5
        '      - configurationId: C-1', //   6
        '        groups: []', //             7
      ),
    );
    expect(err.details).toEqual([
      `desired.yaml:4: tenants[0].configurations[0]: expected a mapping with "configurationId" and "groups", got "${C1}"`,
      'desired.yaml:5: tenants[0].configurations[1]: missing "configurationId"',
      'desired.yaml:6: tenants[0].configurations[2].configurationId: "C-1" is not a GUID',
    ]);
  });

  it('refuses missing groups and explains how to say "no groups"', () => {
    const err = problemsOf(
      yaml('tenants:', `  - tenantId: ${T1}`, '    configurations:', `      - configurationId: ${C1}`),
    );
    expect(err.details).toEqual([
      'desired.yaml:4: tenants[0].configurations[0]: missing "groups" (write "groups: []" for a configuration that should have no group assignments)',
    ]);
  });

  it('refuses groups that are empty or not a list rather than reading them as "no groups"', () => {
    expect(problemsOf(oneConfiguration('')).details).toEqual([
      'desired.yaml:5: tenants[0].configurations[0].groups: expected a list of group ids, got an empty value',
    ]);
    expect(problemsOf(oneConfiguration(G1)).details).toEqual([
      `desired.yaml:5: tenants[0].configurations[0].groups: expected a list of group ids, got "${G1}"`,
    ]);
  });

  it('refuses each group id that is not a GUID, on its own line, with its index', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                       1
        `  - tenantId: ${T1}`, //            2
        '    configurations:', //            3
        `      - configurationId: ${C1}`, // 4
        `        groups: [${G1}]`, //        5
        `      - configurationId: ${C2}`, // 6
        '        groups:', //                7
        `          - ${G1}`, //              8
        `          - ${G2}`, //              9
        '          - abc', //                10
        '          - 7', //                  11
        '          - [x]', //                12
      ),
    );
    expect(err.message).toBe('desired.yaml: 3 problem(s), nothing was done');
    expect(err.details).toEqual([
      'desired.yaml:10: tenants[0].configurations[1].groups[2]: "abc" is not a GUID',
      'desired.yaml:11: tenants[0].configurations[1].groups[3]: expected a GUID, got the number 7',
      'desired.yaml:12: tenants[0].configurations[1].groups[4]: expected a GUID, got a list',
    ]);
  });

  it('refuses a misspelt key, so that `group:` can never silently mean "no groups"', () => {
    const err = problemsOf(oneConfiguration().replace('groups:', 'group:'));
    expect(err.details).toEqual([
      'desired.yaml:4: tenants[0].configurations[0]: missing "groups" (write "groups: []" for a configuration that should have no group assignments)',
      'desired.yaml:5: tenants[0].configurations[0]: unknown key "group" (did you mean "groups"?)',
    ]);
  });

  it('refuses unknown keys at every level, each on its own line, suggesting only a close match', () => {
    const err = problemsOf(
      yaml(
        'version: 2', //                      1
        'tenants:', //                        2
        `  - tenantId: ${T1}`, //             3
        '    TenantID: x', //                 4
        '    name: Contoso', //               5
        '    configurations:', //             6
        `      - configurationId: ${C1}`, //  7
        '        groups: []', //              8
        '        comment: keep', //           9
      ),
    );
    expect(err.details).toEqual([
      'desired.yaml:1: unknown key "version"; expected "tenants"',
      'desired.yaml:4: tenants[0]: unknown key "TenantID" (did you mean "tenantId"?)',
      'desired.yaml:5: tenants[0]: unknown key "name"; expected "tenantId" and "configurations"',
      'desired.yaml:9: tenants[0].configurations[0]: unknown key "comment"; expected "configurationId" and "groups"',
    ]);
  });

  it('refuses the same tenant listed twice, in any case, naming both lines', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                               1
        `  - tenantId: ${T1}`, //                    2
        '    configurations: []', //                 3
        `  - tenantId: ${T2}`, //                    4
        '    configurations: []', //                 5
        `  - tenantId: ${T1.toUpperCase()}`, //      6
        '    configurations: []', //                 7
      ),
    );
    expect(err.details).toEqual([
      `desired.yaml:6: tenants[2].tenantId: tenant ${T1} is already listed at line 2 (tenants[0]); list it once`,
    ]);
  });

  it('refuses the same configuration listed twice in one tenant, naming both lines', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                                          1
        `  - tenantId: ${T1}`, //                               2
        '    configurations:', //                               3
        `      - { configurationId: ${C1}, groups: [${G1}] }`, // 4
        `      - { configurationId: ${C2}, groups: [] }`, //     5
        `      - { configurationId: ${C1}, groups: [${G2}] }`, // 6
      ),
    );
    expect(err.details).toEqual([
      `desired.yaml:6: tenants[0].configurations[2].configurationId: configuration ${C1} is already listed at line 4 (tenants[0].configurations[0]); list it once`,
    ]);
  });

  it('names lines in pretty-printed JSON too', () => {
    const text = JSON.stringify(
      { tenants: [{ tenantId: T1, configurations: [{ configurationId: C1, groups: [G1, 'abc'] }] }] },
      null,
      2,
    );
    const line = text.split('\n').findIndex((l) => l.includes('"abc"')) + 1;
    expect(problemsOf(text, 'desired.json').details).toEqual([
      `desired.json:${line}: tenants[0].configurations[0].groups[1]: "abc" is not a GUID`,
    ]);
  });
});

describe('collecting problems', () => {
  it('reports every problem of every kind in one error, in line order', () => {
    const err = problemsOf(
      yaml(
        'tenants:', //                                          1
        `  - tenantId: ${T1}`, //                               2
        '    configurations:', //                               3
        `      - { configurationId: ${C1}, group: [] }`, //     4
        `      - { configurationId: ${C1}, groups: [nope] }`, // 5
        '  - tenantId: bad', //                                 6
        '    configurations: []', //                            7
        `  - tenantId: ${T1}`, //                               8
      ),
    );
    expect(err.message).toBe('desired.yaml: 7 problem(s), nothing was done');
    expect(err.details.map((line) => line.split(': ')[0])).toEqual([
      'desired.yaml:4',
      'desired.yaml:4',
      'desired.yaml:5',
      'desired.yaml:5',
      'desired.yaml:6',
      'desired.yaml:8',
      'desired.yaml:8',
    ]);
  });

  it(`shows ${MAX_PROBLEM_LINES} problems, then one line counting the rest`, () => {
    const groups = Array.from({ length: MAX_PROBLEM_LINES + 7 }, (_, i) => `          - bad-${i}`);
    const err = problemsOf(
      yaml(
        'tenants:',
        `  - tenantId: ${T1}`,
        '    configurations:',
        `      - configurationId: ${C1}`,
        '        groups:',
        ...groups,
      ),
    );
    expect(err.message).toBe(`desired.yaml: ${MAX_PROBLEM_LINES + 7} problem(s), nothing was done`);
    expect(err.details).toHaveLength(MAX_PROBLEM_LINES + 1);
    expect(err.details[0]).toBe('desired.yaml:6: tenants[0].configurations[0].groups[0]: "bad-0" is not a GUID');
    expect(err.details.at(-1)).toBe('… and 7 more problems');
  });
});

describe('readDesiredStateFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'desired-state-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  async function rejectionOf(promise: Promise<unknown>): Promise<UserError> {
    const err: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }

  it('reads a file, dropping a BOM, and returns its text with the state', async () => {
    const text = oneConfiguration();
    const path = await file('desired.yaml', `\uFEFF${text}`);
    expect(await readDesiredStateFile(path)).toEqual({
      state: { tenants: [{ tenantId: T1, configurations: [{ configurationId: C1, groups: [G1] }] }] },
      text,
    });
  });

  it('names the file in its problems', async () => {
    const path = await file('bad.yaml', oneConfiguration('[abc]'));
    const err = await rejectionOf(readDesiredStateFile(path));
    expect(err.code).toBe(ErrorCodes.INPUT_INVALID);
    expect(err.details).toEqual([`${path}:5: tenants[0].configurations[0].groups[0]: "abc" is not a GUID`]);
  });

  it('refuses a missing file as unreadable, naming it', async () => {
    const path = join(dir, 'nope.yaml');
    const err = await rejectionOf(readDesiredStateFile(path));
    expect(err.code).toBe(ErrorCodes.INPUT_UNREADABLE);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`${path}: cannot read (ENOENT)`);
  });

  it('refuses a directory as unreadable, naming it', async () => {
    const path = join(dir, 'a-directory.yaml');
    await mkdir(path);
    const err = await rejectionOf(readDesiredStateFile(path));
    expect(err.code).toBe(ErrorCodes.INPUT_UNREADABLE);
    expect(err.message).toBe(`${path}: cannot read (EISDIR)`);
  });

  it('refuses binary data and UTF-16 text before parsing, naming the line', async () => {
    const binary = await file('binary.yaml', Buffer.concat([Buffer.from('tenants:\n  - '), Buffer.from([0x00, 0xff])]));
    const binaryError = await rejectionOf(readDesiredStateFile(binary));
    expect(binaryError.code).toBe(ErrorCodes.INPUT_INVALID);
    expect(binaryError.details).toEqual([`${binary}:2: not a text file (binary data)`]);

    const utf16 = await file('utf16.yaml', Buffer.from(`\uFEFF${oneConfiguration()}`, 'utf16le'));
    expect((await rejectionOf(readDesiredStateFile(utf16))).details).toEqual([
      `${utf16}:1: file is UTF-16 text; save it as UTF-8`,
    ]);
  });

  it('reads `-` from stdin and names it stdin', async () => {
    const text = oneConfiguration();
    const read = await readDesiredStateFile('-', {
      stdin: Readable.from([Buffer.from(text.slice(0, 30)), Buffer.from(text.slice(30))]),
    });
    expect(read.text).toBe(text);
    expect(desiredStateCounts(read.state)).toEqual({ tenants: 1, configurations: 1, groups: 1 });

    const err = await rejectionOf(readDesiredStateFile('-', { stdin: Readable.from([Buffer.from('tenants: 1\n')]) }));
    expect(err.details).toEqual(['stdin:1: tenants: expected a list of tenants, got the number 1']);
  });
});

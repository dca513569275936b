import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors/codes.js';
import { UserError } from '../../lib/errors/user-error.js';
import type { EventRule } from '../../lib/queues/event-rule.js';
import {
  candidateRules,
  matchedConfigurations,
  needsDisplayName,
  parseEventRules,
  readEventRulesFile,
} from '../../producer/event-rules.js';

const T1 = '11111111-1111-1111-1111-111111111111';
const T2 = '22222222-2222-2222-2222-222222222222';
/** A distinct, valid object id per number (lower case). */
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const C1 = id(0xc1);
const C2 = id(0xc2);
const C3 = id(0xc3);

/** Lines joined with LF, so each test can count the line a problem is on. */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** Parses expecting E_INPUT_INVALID (exit 2) and returns its detail lines. */
function problemsOf(text: string, source = 'rules.yaml'): readonly string[] {
  let thrown: unknown;
  try {
    parseEventRules(text, source);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UserError);
  const userError = thrown as UserError;
  expect(userError.code).toBe(ErrorCodes.INPUT_INVALID);
  expect(userError.exitCode).toBe(2);
  expect(userError.message).toBe(`${source}: ${userError.details.length} problem(s) in the rules file`);
  return userError.details;
}

/** A rule as parseEventRules returns it, with no conditions but the type. */
const rule = (name: string, fields: Partial<EventRule> = {}): EventRule => ({
  name,
  types: ['group.created'],
  tenants: [],
  attributes: {},
  displayName: null,
  configurations: [C1],
  ...fields,
});

describe('reading valid rules', () => {
  it('expands the shorthands, lower-cases ids and lists each type, tenant and configuration once', () => {
    const rules = parseEventRules(
      yaml(
        '# group events to assignments',
        'rules:',
        '  - name: sales-baseline',
        '    match:',
        '      type: group.created',
        `      tenantId: ${T1.toUpperCase()}`,
        '      attributes:',
        '        department: Sales',
        '      displayName: "^SG-Sales-"',
        `    configurations: [${C1}, ${C2.toUpperCase()}, ${C1}]`,
        '  - name: Any tenant v2',
        '    match:',
        '      type: [group.created, group.updated, group.created]',
        `      tenantId: [${T1}, ${T2}]`,
        '      displayName: { pattern: "^sg-", flags: iu }',
        `    configurations: [${C3}]`,
      ),
      'rules.yaml',
    );
    expect(rules).toEqual([
      rule('sales-baseline', {
        tenants: [T1],
        attributes: { department: 'Sales' },
        displayName: { pattern: '^SG-Sales-', flags: '' },
        configurations: [C1, C2],
      }),
      rule('Any tenant v2', {
        types: ['group.created', 'group.updated'],
        tenants: [T1, T2],
        displayName: { pattern: '^sg-', flags: 'iu' },
        configurations: [C3],
      }),
    ]);
  });

  it('keeps attribute numbers and booleans as written, since they are compared as text', () => {
    const [only] = parseEventRules(
      yaml(
        'rules:',
        '  - name: r',
        '    match:',
        '      type: t',
        '      attributes: { costCenter: 0042, ratio: 1.50, managed: true, quoted: "7" }',
        `    configurations: [${C1}]`,
      ),
      'rules.yaml',
    );
    expect(only?.attributes).toEqual({ costCenter: '0042', ratio: '1.50', managed: 'true', quoted: '7' });
  });

  it('reads JSON, and an empty list of rules', () => {
    const json = JSON.stringify({
      rules: [{ name: 'j', match: { type: 'group.created', attributes: { n: 5 } }, configurations: [C1] }],
    });
    expect(parseEventRules(json, 'rules.json')).toEqual([rule('j', { attributes: { n: '5' } })]);
    expect(parseEventRules('rules: []\n', 'rules.yaml')).toEqual([]);
  });
});

describe('refusing a rules file', () => {
  it('names the line and path of a regular expression that does not compile, in either form', () => {
    expect(
      problemsOf(
        yaml(
          'rules:',
          '  - name: a',
          '    match: { type: t }',
          `    configurations: [${C1}]`,
          '  - name: b',
          '    match:',
          '      type: t',
          '      displayName: "^SG-(Sales"',
          `    configurations: [${C1}]`,
          '  - name: c',
          '    match:',
          '      type: t',
          '      displayName: { pattern: "\\\\p{Lu", flags: u }',
          `    configurations: [${C1}]`,
        ),
      ),
    ).toEqual([
      'rules.yaml:8: rules[1].match.displayName: invalid regular expression (Invalid regular expression: /^SG-(Sales/: Unterminated group)',
      'rules.yaml:13: rules[2].match.displayName.pattern: invalid regular expression (Invalid regular expression: /\\p{Lu/u: Invalid property name)',
    ]);
  });

  it('refuses flags other than i, m, s and u, and an empty pattern', () => {
    expect(
      problemsOf(
        yaml(
          'rules:',
          '  - name: a',
          '    match:',
          '      type: t',
          '      displayName: { pattern: "", flags: gi }',
          `    configurations: [${C1}]`,
        ),
      ),
    ).toEqual([
      'rules.yaml:5: rules[0].match.displayName.pattern: the regular expression is empty',
      'rules.yaml:5: rules[0].match.displayName.flags: "gi": flags are letters from "imsu", each at most once',
    ]);
  });

  it('refuses a rule name used twice, pointing at the first', () => {
    expect(
      problemsOf(
        yaml(
          'rules:',
          '  - name: sales',
          '    match: { type: t }',
          `    configurations: [${C1}]`,
          '  - name: sales',
          '    match: { type: u }',
          `    configurations: [${C2}]`,
        ),
      ),
    ).toEqual([
      'rules.yaml:5: rules[1].name: rule name "sales" is already used at line 2 (rules[0]); names must be unique',
    ]);
  });

  it('refuses unknown keys, suggesting the key probably meant', () => {
    expect(
      problemsOf(
        yaml(
          'rules:',
          '  - name: a',
          '    match:',
          '      type: t',
          '      tenantID: ' + T1,
          '      display: x',
          `    configuration: [${C1}]`,
        ),
      ),
    ).toEqual([
      'rules.yaml:2: rules[0]: missing "configurations"',
      'rules.yaml:5: rules[0].match: unknown key "tenantID" (did you mean "tenantId"?)',
      'rules.yaml:6: rules[0].match: unknown key "display"; expected "type", "tenantId", "attributes", "displayName"',
      'rules.yaml:7: rules[0]: unknown key "configuration" (did you mean "configurations"?)',
    ]);
  });

  it('names bad values at their own line, every problem at once', () => {
    expect(
      problemsOf(
        yaml(
          'rules:',
          '  - name: " padded"',
          '    match:',
          '      type: [group.created, "group created", 5]',
          '      tenantId: []',
          '      attributes: { department: null, "": x }',
          '    configurations: []',
          '  - name: b',
          '    match:',
          '      tenantId: not-a-guid',
          `    configurations: ${C1}`,
          '  - 42',
        ),
      ),
    ).toEqual([
      'rules.yaml:2: rules[0].name: " padded" is not a rule name: 1 to 100 letters, digits, spaces and _ . - (no space first or last)',
      'rules.yaml:4: rules[0].match.type[1]: "group created" is not an event type: 1 to 100 letters, digits and _ . : -',
      'rules.yaml:4: rules[0].match.type[2]: expected an event type, got the number 5',
      'rules.yaml:5: rules[0].match.tenantId: the list is empty; leave "tenantId" out to match every tenant',
      'rules.yaml:6: rules[0].match.attributes.department: expected a string, number or boolean, got an empty value',
      'rules.yaml:6: rules[0].match.attributes: an attribute name is empty',
      'rules.yaml:7: rules[0].configurations: the list is empty; a rule assigns at least one configuration',
      'rules.yaml:9: rules[1].match: missing "type"',
      'rules.yaml:10: rules[1].match.tenantId: "not-a-guid" is not a GUID',
      'rules.yaml:11: rules[1].configurations: expected a list of configuration ids, got "00000000-0000-4000-8000-0000000000c1"',
      'rules.yaml:12: rules[2]: expected a mapping with "name", "match" and "configurations", got the number 42',
    ]);
  });

  it('refuses an empty file, a file without "rules", YAML syntax errors and repeated keys', () => {
    expect(problemsOf('')).toEqual(['rules.yaml:1: the file is empty; expected a mapping with a "rules" list']);
    expect(problemsOf('rule: []\n')).toEqual([
      'rules.yaml:1: missing "rules"',
      'rules.yaml:1: unknown key "rule" (did you mean "rules"?)',
    ]);
    expect(problemsOf('rules: [\n')[0]).toMatch(/^rules\.yaml:2: syntax error: /);
    expect(problemsOf(yaml('rules:', '  - name: a', '    name: b'))).toEqual([
      'rules.yaml:3: key "name" is written twice in one mapping',
    ]);
  });
});

describe('readEventRulesFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'event-rules-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and parses a file, naming it in problems', async () => {
    const path = join(dir, 'rules.yaml');
    await writeFile(path, yaml('rules:', '  - name: a', '    match: { type: t }', `    configurations: [${C1}]`));
    expect(await readEventRulesFile(path)).toEqual([rule('a', { types: ['t'] })]);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, yaml('rules:', '  - name: a', '    match: { type: t }', '    configurations: [x]'));
    await expect(readEventRulesFile(bad)).rejects.toMatchObject({
      code: ErrorCodes.INPUT_INVALID,
      details: [`${bad}:4: rules[0].configurations[0]: "x" is not a GUID`],
    });
  });

  it('reports a file it cannot read as E_INPUT_UNREADABLE', async () => {
    const missing = join(dir, 'missing.yaml');
    await expect(readEventRulesFile(missing)).rejects.toMatchObject({
      code: ErrorCodes.INPUT_UNREADABLE,
      message: `${missing}: cannot read (ENOENT)`,
    });
    await expect(readEventRulesFile(dir)).rejects.toMatchObject({
      code: ErrorCodes.INPUT_UNREADABLE,
      message: `${dir}: cannot read (EISDIR)`,
    });
  });

  it('refuses binary content instead of parsing it', async () => {
    const path = join(dir, 'binary.yaml');
    await writeFile(path, Buffer.from([0x72, 0x75, 0x6c, 0x65, 0x73, 0x00, 0x01, 0x02]));
    await expect(readEventRulesFile(path)).rejects.toMatchObject({ code: ErrorCodes.INPUT_INVALID });
  });
});

describe('candidateRules', () => {
  const event = {
    type: 'group.created',
    tenantId: T1,
    attributes: { department: 'Sales', costCenter: 42, managed: true },
  };

  it('keeps the rules whose types include the event type', () => {
    const rules = [
      rule('created'),
      rule('updated', { types: ['group.updated'] }),
      rule('either', { types: ['group.updated', 'group.created'] }),
    ];
    expect(candidateRules(rules, event).map((r) => r.name)).toEqual(['created', 'either']);
  });

  it('keeps rules for any tenant, or for the event tenant, whatever its case', () => {
    const rules = [rule('any'), rule('mine', { tenants: [T2, T1] }), rule('other', { tenants: [T2] })];
    expect(candidateRules(rules, { ...event, tenantId: T1.toUpperCase() }).map((r) => r.name)).toEqual(['any', 'mine']);
  });

  it('requires every attribute condition, comparing values as strings', () => {
    const rules = [
      rule('sales', { attributes: { department: 'Sales' } }),
      rule('sales-42', { attributes: { department: 'Sales', costCenter: '42', managed: 'true' } }),
      rule('sales-43', { attributes: { department: 'Sales', costCenter: '43' } }),
      rule('lower', { attributes: { department: 'sales' } }),
    ];
    expect(candidateRules(rules, event).map((r) => r.name)).toEqual(['sales', 'sales-42']);
  });

  it('never matches an attribute the event does not have, even one every object inherits', () => {
    const rules = [
      rule('region', { attributes: { region: 'undefined' } }),
      rule('proto', { attributes: { constructor: 'function Object() { [native code] }' } }),
    ];
    expect(candidateRules(rules, event)).toEqual([]);
  });
});

describe('needsDisplayName', () => {
  it('is true when any rule has a display-name condition', () => {
    expect(needsDisplayName([])).toBe(false);
    expect(needsDisplayName([rule('a'), rule('b')])).toBe(false);
    expect(needsDisplayName([rule('a'), rule('b', { displayName: { pattern: '^SG-', flags: '' } })])).toBe(true);
  });
});

describe('matchedConfigurations', () => {
  const rules = [
    rule('all', { configurations: [C1, C2] }),
    rule('sales', { displayName: { pattern: '^SG-Sales-', flags: '' }, configurations: [C2, C3] }),
    rule('any-case', { displayName: { pattern: '^sg-', flags: 'i' }, configurations: [C3] }),
  ];

  it('applies the display-name patterns and lists configurations once each, in rule order', () => {
    expect(matchedConfigurations(rules, 'SG-Sales-EMEA')).toEqual({
      configurationIds: [C1, C2, C3],
      rules: ['all', 'sales', 'any-case'],
    });
    expect(matchedConfigurations(rules, 'sg-marketing')).toEqual({
      configurationIds: [C1, C2, C3],
      rules: ['all', 'any-case'],
    });
    expect(matchedConfigurations(rules, 'Marketing')).toEqual({ configurationIds: [C1, C2], rules: ['all'] });
  });

  it('does not match a display-name condition when the name is unknown', () => {
    expect(matchedConfigurations(rules, null)).toEqual({ configurationIds: [C1, C2], rules: ['all'] });
  });

  it('matches nothing without rules', () => {
    expect(matchedConfigurations([], 'SG-Sales')).toEqual({ configurationIds: [], rules: [] });
  });

  it('gives the same answer when asked again (no pattern state between calls)', () => {
    const once = matchedConfigurations(rules, 'SG-Sales-1');
    expect(matchedConfigurations(rules, 'SG-Sales-1')).toEqual(once);
  });
});

import { z } from 'zod';
import type { EventRule } from '../lib/queues/event-rule.js';
import { showValue } from './row-validation.js';
import { expected, objectId } from './config-file-values.js';

/**
 * The shape of RULES_FILE and the messages for what breaks it. Shorthands a person writes (one type
 * instead of a list, a bare pattern instead of {pattern, flags}) are expanded here, so an EventRule
 * has one form only.
 */

const RULE_NAME = /^[A-Za-z0-9_.-](?:[A-Za-z0-9 _.-]{0,98}[A-Za-z0-9_.-])?$/;
/** The same alphabet `POST /events` accepts for a type, so a rule can never ask for an impossible one. */
const EVENT_TYPE = /^[A-Za-z0-9_.:-]{1,100}$/;
/** No `g` or `y`: they make RegExp.test remember where it stopped, and a rule must answer the same twice. */
const PATTERN_FLAGS = /^(?!.*(.).*\1)[imsu]*$/;

/** One value or a non-empty list of them, always a list afterwards, each once. */
function oneOrList<T>(
  item: z.ZodType<T, unknown>,
  what: string,
  key: string,
  emptyNote: string,
): z.ZodType<T[], unknown> {
  return z
    .union([item.transform((value) => [value]), z.array(item).min(1, { error: `the list is empty; ${emptyNote}` })], {
      error: expected(`${what} or a list of them`, key),
    })
    .transform((values) => [...new Set(values)]);
}

/** Why `pattern` does not compile with `flags`, or undefined when it does. */
function regexProblem(pattern: string, flags: string): string | undefined {
  try {
    new RegExp(pattern, flags);
    return undefined;
  } catch (err) {
    return `invalid regular expression (${(err as Error).message})`;
  }
}

const eventType = z.string({ error: expected('an event type', 'type') }).regex(EVENT_TYPE, {
  error: (issue) => `${showValue(String(issue.input))} is not an event type: 1 to 100 letters, digits and _ . : -`,
});

const pattern = z
  .string({ error: expected('a regular expression', 'pattern') })
  .min(1, { error: 'the regular expression is empty' });

const displayName = z
  .union(
    [
      pattern.superRefine((value, ctx) => {
        const problem = regexProblem(value, '');
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
      z
        .strictObject({
          pattern,
          flags: z
            .string({ error: expected('regular expression flags', 'flags') })
            .regex(PATTERN_FLAGS, {
              error: (issue) => `${showValue(String(issue.input))}: flags are letters from "imsu", each at most once`,
            })
            .default(''),
        })
        .superRefine((value, ctx) => {
          // A bad flag is reported on its own; whether the pattern compiles depends on the flags.
          if (typeof value.pattern !== 'string' || typeof value.flags !== 'string' || !PATTERN_FLAGS.test(value.flags))
            return;
          const problem = regexProblem(value.pattern, value.flags);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['pattern'], message: problem });
        }),
    ],
    { error: expected('a regular expression or a mapping with "pattern" and "flags"', 'displayName') },
  )
  .transform((value) => (typeof value === 'string' ? { pattern: value, flags: '' } : value));

const attributes = z.record(
  z
    .string()
    .min(1, { error: 'an attribute name is empty' })
    .max(100, { error: (issue) => `attribute name ${showValue(String(issue.input))} is longer than 100 characters` }),
  // Compared as strings; the reader hands numbers over as written (0042 stays "0042").
  z
    .union([z.string(), z.number(), z.boolean()], { error: expected('a string, number or boolean', 'value') })
    .transform(String),
  { error: expected('a mapping of attribute names to values', 'attributes') },
);

const match = z.strictObject(
  {
    type: oneOrList(eventType, 'an event type', 'type', 'list at least one event type'),
    tenantId: oneOrList(
      objectId('tenantId'),
      'a GUID',
      'tenantId',
      'leave "tenantId" out to match every tenant',
    ).optional(),
    attributes: attributes.optional(),
    displayName: displayName.optional(),
  },
  { error: expected('a mapping with "type" and optional "tenantId", "attributes", "displayName"', 'match') },
);

const rule = z
  .strictObject(
    {
      name: z.string({ error: expected('a rule name', 'name') }).regex(RULE_NAME, {
        error: (issue) =>
          `${showValue(String(issue.input))} is not a rule name: 1 to 100 letters, digits, spaces and _ . - (no space first or last)`,
      }),
      match,
      configurations: z
        .array(objectId('configurations'), { error: expected('a list of configuration ids', 'configurations') })
        .min(1, { error: 'the list is empty; a rule assigns at least one configuration' })
        .transform((ids) => [...new Set(ids)]),
    },
    { error: expected('a mapping with "name", "match" and "configurations"', 'rule') },
  )
  .transform((written): EventRule => ({
    name: written.name,
    types: written.match.type,
    tenants: written.match.tenantId ?? [],
    attributes: written.match.attributes ?? {},
    displayName: written.match.displayName ?? null,
    configurations: written.configurations,
  }));

const root = z.strictObject(
  { rules: z.array(rule, { error: expected('a list of rules', 'rules') }) },
  { error: expected('a mapping with a "rules" list', 'rules') },
);

export const eventRulesSchema: z.ZodType<{ rules: EventRule[] }, unknown> = root;

/**
 * The keys a mapping may have, by the key or list it sits under ('' for the top level), so that a
 * misspelt key can be answered with the one probably meant.
 */
export const RULE_KEYS_BY_PARENT: Readonly<Record<string, readonly string[]>> = {
  '': ['rules'],
  rules: ['name', 'match', 'configurations'],
  match: Object.keys(match.shape),
  displayName: ['pattern', 'flags'],
};

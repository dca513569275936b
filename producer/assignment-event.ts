import { z } from 'zod';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { showValue } from './row-validation.js';

/**
 * The body of `POST /events`, checked before anything is queued: the sender gets one short reason
 * naming the field, and everything after intake can trust the shape. Unknown keys are refused rather
 * than dropped, so a misspelt `attribute` is not silently an event with no attributes.
 */

export type EventAttributes = Record<string, string | number | boolean>;

/** An event body as validated; ids are lower-case GUIDs. */
export interface ParsedAssignmentEvent {
  id: string;
  type: string;
  tenantId: string;
  groupId: string;
  attributes: EventAttributes;
}

export const MAX_EVENT_ATTRIBUTES = 50;
/** Reasons beyond this many are summed up: one fix-and-resend round should not need a scroll. */
const MAX_REASONS = 3;

/** What a JSON value is, in the words of someone who wrote JSON. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  return `the ${typeof value} ${String(value)}`;
}

const required =
  (what: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'required' : `must be ${what}, got ${describe(issue.input)}`;

const guid = z
  .string({ error: required('a GUID') })
  .refine((value) => isObjectId(value.trim()), { error: 'must be a GUID' })
  .transform(normalizeObjectId);

const attributeValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' });

const attributes = z
  .record(
    z
      .string()
      .min(1, { error: 'an attribute name is empty' })
      .max(100, { error: (issue) => `attribute name ${showValue(String(issue.input))} is longer than 100 characters` }),
    attributeValue,
    { error: required('an object') },
  )
  .refine((value) => Object.keys(value).length <= MAX_EVENT_ATTRIBUTES, {
    error: (issue) => `at most ${MAX_EVENT_ATTRIBUTES} attributes, got ${Object.keys(issue.input as object).length}`,
  });

// Other top-level fields are ignored: HR and identity systems add their own (timestamps, sources).
const eventBody = z.object(
  {
    id: z
      .string({ error: required('a string') })
      .min(1, { error: 'must not be empty' })
      .max(200, { error: 'must be at most 200 characters' }),
    type: z
      .string({ error: required('a string') })
      .min(1, { error: 'must not be empty' })
      .max(100, { error: 'must be at most 100 characters' })
      .regex(/^[A-Za-z0-9_.:-]+$/, { error: 'may only contain letters, digits and _ . : -' }),
    tenantId: guid,
    groupId: guid,
    attributes: attributes.default({}),
  },
  { error: required('a JSON object') },
);

/** Checks an event body (parsed JSON); on failure, a reason like `groupId: must be a GUID`. */
export function parseAssignmentEvent(
  body: unknown,
): { ok: true; event: ParsedAssignmentEvent } | { ok: false; reason: string } {
  const parsed = eventBody.safeParse(body);
  if (parsed.success) return { ok: true, event: parsed.data };
  // The first reason a field only: an empty type is not also a type with bad characters.
  const byField = new Map<string, string>();
  for (const reason of parsed.error.issues.flatMap(issueReasons))
    if (!byField.has(reason.field)) byField.set(reason.field, reason.text);
  const reasons = [...byField.values()];
  const shown = reasons.slice(0, MAX_REASONS);
  if (reasons.length > shown.length) shown.push(`and ${reasons.length - shown.length} more`);
  return { ok: false, reason: shown.join('; ') };
}

interface Reason {
  field: string;
  text: string;
}

function issueReasons(issue: z.core.$ZodIssue): Reason[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => at([...issue.path, key], 'unknown key'));
  // A bad attribute name is said of `attributes`: the name itself may be empty or very long.
  if (issue.code === 'invalid_key') return issue.issues.map((inner) => at(issue.path.slice(0, -1), inner.message));
  return [at(issue.path, issue.message)];
}

function at(path: readonly PropertyKey[], reason: string): Reason {
  const field = path.length === 0 ? 'body' : path.map((segment) => cut(String(segment))).join('.');
  return { field, text: `${field}: ${reason}` };
}

/** Keeps a long attribute name from making the reason long. */
function cut(segment: string): string {
  return segment.length > 40 ? `${segment.slice(0, 39)}…` : segment;
}

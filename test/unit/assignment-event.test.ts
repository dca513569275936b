import { describe, expect, it } from 'vitest';
import { MAX_EVENT_ATTRIBUTES, parseAssignmentEvent } from '../../producer/assignment-event.js';

const TENANT = '3f0e5a1b-1111-4222-8333-444455556666';
const GROUP = '9d1b2c3e-aaaa-4bbb-8ccc-ddddeeeeffff';

const valid = {
  id: 'hr-42',
  type: 'group.created',
  tenantId: TENANT,
  groupId: GROUP,
  attributes: { department: 'Sales' },
};

/** The reason a body is refused; fails the test if it is accepted. */
function reasonFor(body: unknown): string {
  const result = parseAssignmentEvent(body);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(body)}`);
  return result.reason;
}

describe('an event body that is accepted', () => {
  it('comes back with its fields, ids lower-cased and trimmed', () => {
    const result = parseAssignmentEvent({
      ...valid,
      tenantId: ` ${TENANT.toUpperCase()} `,
      groupId: GROUP.toUpperCase(),
    });
    expect(result).toEqual({ ok: true, event: { ...valid, tenantId: TENANT, groupId: GROUP } });
  });

  it('gets empty attributes when it has none', () => {
    const { attributes: _, ...withoutAttributes } = valid;
    expect(parseAssignmentEvent(withoutAttributes)).toEqual({
      ok: true,
      event: { ...withoutAttributes, attributes: {} },
    });
  });

  it('keeps string, number and boolean attributes as they were sent', () => {
    const attributes = { department: 'Sales', costCenter: 42, ratio: 0.5, managed: false, empty: '' };
    const result = parseAssignmentEvent({ ...valid, attributes });
    expect(result.ok && result.event.attributes).toEqual(attributes);
  });

  it('takes types made of letters, digits and _ . : -, up to 100 characters', () => {
    for (const type of ['group.created', 'hr:employee_hired', 'Group-Updated.v2', 'x'.repeat(100)]) {
      expect(parseAssignmentEvent({ ...valid, type }).ok, type).toBe(true);
    }
  });

  it(`takes ids up to 200 characters and up to ${MAX_EVENT_ATTRIBUTES} attributes`, () => {
    const attributes = Object.fromEntries(Array.from({ length: MAX_EVENT_ATTRIBUTES }, (_, i) => [`a${i}`, i]));
    expect(parseAssignmentEvent({ ...valid, id: 'i'.repeat(200), attributes }).ok).toBe(true);
  });
});

describe('an event body that is refused', () => {
  it('names a group id that is not a GUID', () => {
    expect(reasonFor({ ...valid, groupId: 'sales-team' })).toBe('groupId: must be a GUID');
    expect(reasonFor({ ...valid, groupId: 42 })).toBe('groupId: must be a GUID, got the number 42');
  });

  it('names a tenant id that is not a GUID', () => {
    expect(reasonFor({ ...valid, tenantId: `${TENANT}0` })).toBe('tenantId: must be a GUID');
  });

  it('names each required field that is absent', () => {
    expect(reasonFor({ type: 'group.created', tenantId: TENANT, groupId: GROUP })).toBe('id: required');
    expect(reasonFor({ id: 'e', tenantId: TENANT })).toBe('type: required; groupId: required');
  });

  it('refuses an empty or over-long id', () => {
    expect(reasonFor({ ...valid, id: '' })).toBe('id: must not be empty');
    expect(reasonFor({ ...valid, id: 'i'.repeat(201) })).toBe('id: must be at most 200 characters');
    expect(reasonFor({ ...valid, id: 7 })).toBe('id: must be a string, got the number 7');
  });

  it('refuses a type with other characters, or over 100 characters', () => {
    expect(reasonFor({ ...valid, type: 'group created' })).toBe('type: may only contain letters, digits and _ . : -');
    expect(reasonFor({ ...valid, type: 'x'.repeat(101) })).toBe('type: must be at most 100 characters');
    expect(reasonFor({ ...valid, type: '' })).toBe('type: must not be empty');
  });

  it('names an attribute whose value is not a string, number or boolean', () => {
    expect(reasonFor({ ...valid, attributes: { department: ['Sales'] } })).toBe(
      'attributes.department: must be a string, number or boolean',
    );
    expect(reasonFor({ ...valid, attributes: { manager: null } })).toBe(
      'attributes.manager: must be a string, number or boolean',
    );
    expect(reasonFor({ ...valid, attributes: { nested: { a: 1 } } })).toBe(
      'attributes.nested: must be a string, number or boolean',
    );
  });

  it('refuses attributes that are not an object', () => {
    expect(reasonFor({ ...valid, attributes: ['Sales'] })).toBe('attributes: must be an object, got an array');
    expect(reasonFor({ ...valid, attributes: null })).toBe('attributes: must be an object, got null');
  });

  it(`refuses more than ${MAX_EVENT_ATTRIBUTES} attributes`, () => {
    const attributes = Object.fromEntries(Array.from({ length: MAX_EVENT_ATTRIBUTES + 1 }, (_, i) => [`a${i}`, i]));
    expect(reasonFor({ ...valid, attributes })).toBe(
      `attributes: at most ${MAX_EVENT_ATTRIBUTES} attributes, got ${MAX_EVENT_ATTRIBUTES + 1}`,
    );
  });

  it('refuses attribute names that are empty or over 100 characters', () => {
    expect(reasonFor({ ...valid, attributes: { '': 'x' } })).toBe('attributes: an attribute name is empty');
    expect(reasonFor({ ...valid, attributes: { ['k'.repeat(101)]: 'x' } })).toMatch(
      /^attributes: attribute name "k+…" is longer than 100 characters$/,
    );
  });

  it('ignores top-level fields it does not use, as senders add their own', () => {
    const parsed = parseAssignmentEvent({ ...valid, occurredAt: '2026-11-29T08:00:00Z', source: 'workday' });
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && Object.keys(parsed.event).sort()).toEqual(['attributes', 'groupId', 'id', 'tenantId', 'type']);
  });

  it('refuses a body that is not a JSON object', () => {
    expect(reasonFor([valid])).toBe('body: must be a JSON object, got an array');
    expect(reasonFor('group.created')).toBe('body: must be a JSON object, got a string');
    expect(reasonFor(null)).toBe('body: must be a JSON object, got null');
    expect(reasonFor(undefined)).toBe('body: required');
  });

  it('lists at most three problems, then counts the rest', () => {
    expect(reasonFor({ id: 1, type: 2, tenantId: 3, groupId: 4, attributes: 5 })).toBe(
      'id: must be a string, got the number 1; type: must be a string, got the number 2; tenantId: must be a GUID, got the number 3; and 2 more',
    );
  });
});

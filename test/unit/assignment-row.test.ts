import { describe, expect, it } from 'vitest';
import { isDeleteRow, isDeleteRowKey, parseRowKey, rowKey, type AssignmentRow } from '../../lib/assignment-row.js';
import { rowFieldsOf } from '../../lib/outcome.js';
import { jobDataOf, jobNameOf } from '../../lib/queues/assignment-queue.js';
import { rowJobs } from '../../producer/row-jobs.js';

const T = '6f1c2a8e-3b7d-4c9a-9e21-5d4b8a7c0f13';
const C = 'a2f1a51e-ed13-41d6-9dad-54f773c3054e';
const G = '6fc948c8-b264-4740-abc3-e38fa2facdea';
const A = 'e3aaf5c5-fd7d-45d1-b03c-b14ea833b95c';

/** Row keys name a row: three parts for a create, four (the assignment to remove) for a delete. */
describe('row keys', () => {
  const create: AssignmentRow = { tenantId: T, configurationId: C, groupId: G };
  const remove: AssignmentRow = { tenantId: T, configurationId: C, groupId: G, assignmentId: A };

  it('keeps the create row key as it was, and adds the assignment id for a delete row', () => {
    expect(rowKey(create)).toBe(`${T}/${C}/${G}`);
    expect(rowKey(remove)).toBe(`${T}/${C}/${G}/${A}`);
    expect(rowKey({ ...create, assignmentId: '' })).toBe(`${T}/${C}/${G}`);
  });

  it('parses a key back into its row, with assignmentId only when there is a fourth part', () => {
    expect(parseRowKey(rowKey(create))).toStrictEqual(create);
    expect(parseRowKey(rowKey(remove))).toStrictEqual(remove);
    expect(Object.keys(parseRowKey(rowKey(create)))).toEqual(['tenantId', 'configurationId', 'groupId']);
  });

  it('tells delete rows and their keys from create rows', () => {
    expect(isDeleteRow(create)).toBe(false);
    expect(isDeleteRow(remove)).toBe(true);
    expect(isDeleteRowKey(rowKey(create))).toBe(false);
    expect(isDeleteRowKey(rowKey(remove))).toBe(true);
  });

  it('gives an outcome the row action and, for a delete row, the assignment it removes', () => {
    expect(rowFieldsOf(create)).toEqual({
      tenantId: T,
      configurationId: C,
      groupId: G,
      action: 'create',
      assignmentId: null,
    });
    expect(rowFieldsOf(remove)).toEqual({
      tenantId: T,
      configurationId: C,
      groupId: G,
      action: 'delete',
      assignmentId: A,
    });
  });

  it('makes delete jobs that carry their assignment id, and create jobs unchanged', () => {
    const [a, b] = rowJobs('r1', 7, [create, remove]);
    expect(a).toMatchObject({
      name: 'assign',
      data: { rolloutId: 'r1', row: 7, tenantId: T, configurationId: C, groupId: G },
      opts: { jobId: 'r1-7' },
    });
    expect(a!.data).not.toHaveProperty('assignmentId');
    expect(b).toMatchObject({
      name: 'delete',
      data: { rolloutId: 'r1', row: 8, tenantId: T, configurationId: C, groupId: G, assignmentId: A },
      opts: { jobId: 'r1-8' },
    });
    // retry re-makes jobs from row keys: the same data again
    expect(jobDataOf('r1', 8, parseRowKey(rowKey(remove)))).toStrictEqual(b!.data);
    expect(jobNameOf(parseRowKey(rowKey(remove)))).toBe('delete');
  });
});

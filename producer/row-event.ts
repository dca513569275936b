import type { AssignmentRow } from '../lib/assignment-row.js';

/**
 * What reading a rollout input yields, one per data row or per problem, in file order.
 * `line` is the 1-based line in the file where the row (or the problem) starts; the header is line 1.
 * A problem's text is a short reason without the file name or line, so callers can prefix either.
 */
export type RolloutRowEvent = { line: number; row: AssignmentRow } | { line: number; problem: string };

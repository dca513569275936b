import type { Assignment } from './assignment.js';

/**
 * One Intune assignment API, as the rest of the service needs to know it. AssignmentsApi keeps the
 * HTTP, the tokens and the reading of failures; the pipeline (worker/, producer/) keeps the lanes,
 * markers, listings and drift, and asks the kind what "assigned" means. The kind in use is chosen
 * once, where the Graph connection is wired (lib/graph/graph-connection.ts).
 *
 * A new kind must provide:
 * - where its assignments live, relative to GRAPH_BASE_URL: the collection of one policy (listed
 *   with GET and @odata.nextLink, added to with POST) and one assignment in it (GET, DELETE). Only
 *   kinds with a working additive `POST …/assignments` fit: the `/assign` action replaces every
 *   assignment at once, which this pipeline's one-row-one-write model cannot make safe;
 * - the body of a POST that assigns the policy to one group, with everything the kind requires
 *   (mobile apps: an `intent`);
 * - how to read one assignment of a listing or a GET into Assignment, tolerating fields it does not
 *   know and targets that are not groups;
 * - what "assigned" means: the group an assignment counts as assigned to, or undefined for any
 *   other target. Policies: the kind's group target type with that groupId. Apps: the same, and the
 *   kind's intent. Filters, settings and schedules are attributes that can drift, not part of it.
 *   A rollout row is "already assigned" exactly when the kind says so, so this decides between
 *   skipping a row and writing a duplicate.
 */
export interface AssignmentKind {
  /** The assignments of one policy, e.g. `/officeConfiguration/clientConfigurations/{id}/assignments`. */
  collectionPath(policyId: string): string;
  /** One assignment of a policy (GET, DELETE). */
  assignmentPath(policyId: string, assignmentId: string): string;
  /** The JSON body of a POST to the collection that assigns the policy to one group. */
  createBody(groupId: string): unknown;
  /** One assignment as Graph answered it (a listing's `value` entry, or a POST's or GET's body). */
  readAssignment(value: unknown): Assignment;
  /** The group this assignment counts as assigning the policy to; undefined for any other target. */
  assignedGroup(assignment: Assignment): string | undefined;
}

/** True when, for this kind, `assignment` is the policy assigned to `groupId`. */
export function isAssignmentOf(kind: AssignmentKind, assignment: Assignment, groupId: string): boolean {
  return kind.assignedGroup(assignment) === groupId;
}

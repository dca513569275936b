import type { Assignment } from '../lib/graph/assignment.js';
import type { AssignmentKind } from '../lib/graph/assignment-kind.js';
import { GraphFailure, GraphFailureCodes } from '../lib/graph/graph-failure.js';
import type { RolloutInput } from './rollout-file.js';

/**
 * What a rollout would do to a row, decided from a read of its configuration's assignments:
 * - would-create: the configuration exists and the group is not assigned;
 * - already-assigned: the group is assigned (assignmentId says which assignment);
 * - configuration-not-found: Graph answered 404 for the configuration in that tenant;
 * - unreadable: the read failed (after retries) some other way, so we do not know. It is never
 *   taken for "no assignments".
 */
export type RowPlan = 'would-create' | 'already-assigned' | 'configuration-not-found' | 'unreadable';

/** Why a configuration could not be read; the fields of a failed row's outcome. */
export interface PlanReason {
  /** Our stable code (E_GRAPH_NOT_FOUND, E_GRAPH_TIMEOUT, …). */
  code: string;
  /** Graph's own error code (ResourceNotFound) or the transport's (ECONNREFUSED), if any. */
  errorCode: string | null;
  message: string;
  httpStatus: number | null;
  requestId: string | null;
}

export interface PlannedRow {
  /** The file line where the row first appeared. */
  line: number;
  tenantId: string;
  configurationId: string;
  groupId: string;
  plan: RowPlan;
  /** The existing assignment, for already-assigned rows; null otherwise. */
  assignmentId: string | null;
  /** For configuration-not-found and unreadable rows; null otherwise. */
  reason: PlanReason | null;
}

/** One distinct (tenant, configuration) of the input and what reading it found. */
export interface PlannedConfiguration {
  tenantId: string;
  configurationId: string;
  state: 'read' | 'not-found' | 'unreadable';
  /** Assignments the configuration has now (every target kind), when it was read; null otherwise. */
  existingAssignments: number | null;
  rows: number;
  wouldCreate: number;
  alreadyAssigned: number;
  reason: PlanReason | null;
}

export interface PlanSummary {
  /** Rows planned (unique rows of the input). */
  total: number;
  wouldCreate: number;
  alreadyAssigned: number;
  configurationNotFound: number;
  unreadable: number;
  /** Distinct (tenant, configuration) pairs, each read once. */
  configurations: number;
}

export interface RolloutPlan {
  /** One per input row, in input order. */
  rows: PlannedRow[];
  /** In order of first appearance in the input. */
  configurations: PlannedConfiguration[];
  summary: PlanSummary;
}

/** Whole listings of a configuration's assignments; AssignmentReader is the real one. */
export interface AssignmentLister {
  /** Every assignment (all pages); throws GraphFailure when the configuration cannot be read. */
  listAll(tenantId: string, configurationId: string): Promise<Assignment[]>;
}

export interface PlanOptions {
  /** Configurations read at the same time, across tenants. Default 4. */
  concurrency?: number;
  /** What "assigned" means: the kind of the API the lister reads through. */
  kind: AssignmentKind;
}

type ConfigurationRead =
  | { state: 'read'; byGroup: Map<string, string>; count: number }
  | { state: 'not-found'; reason: PlanReason }
  | { state: 'unreadable'; reason: PlanReason };

/**
 * What a rollout of `input` would do, without writing anything: each distinct (tenant, configuration)
 * is read once (all pages), at most `concurrency` at a time, and each row is classified against it.
 * Pacing and retries belong to the lister. A GraphFailure ends one configuration's read (404 means
 * not found, anything else unreadable); any other error is a bug and is thrown.
 */
export async function planRollout(
  input: RolloutInput,
  graph: AssignmentLister,
  options: PlanOptions,
): Promise<RolloutPlan> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${String(concurrency)}`);
  const { kind } = options;

  const configurations = new Map<string, PlannedConfiguration>();
  for (const row of input.rows) {
    const key = configurationKey(row.tenantId, row.configurationId);
    const c = configurations.get(key);
    if (c) c.rows++;
    else {
      configurations.set(key, {
        tenantId: row.tenantId,
        configurationId: row.configurationId,
        state: 'read',
        existingAssignments: null,
        rows: 1,
        wouldCreate: 0,
        alreadyAssigned: 0,
        reason: null,
      });
    }
  }

  const planned = [...configurations.values()];
  const reads = new Map<string, ConfigurationRead>();
  let nextIndex = 0;
  const reader = async () => {
    while (nextIndex < planned.length) {
      const c = planned[nextIndex++]!;
      reads.set(
        configurationKey(c.tenantId, c.configurationId),
        await readConfiguration(graph, kind, c.tenantId, c.configurationId),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, planned.length) }, reader));

  for (const c of planned) {
    const read = reads.get(configurationKey(c.tenantId, c.configurationId))!;
    c.state = read.state;
    if (read.state === 'read') c.existingAssignments = read.count;
    else c.reason = read.reason;
  }

  const summary: PlanSummary = {
    total: input.rows.length,
    wouldCreate: 0,
    alreadyAssigned: 0,
    configurationNotFound: 0,
    unreadable: 0,
    configurations: planned.length,
  };
  const rows = input.rows.map((row, i): PlannedRow => {
    const key = configurationKey(row.tenantId, row.configurationId);
    const read = reads.get(key)!;
    const c = configurations.get(key)!;
    const base = {
      line: input.lines[i] ?? 0,
      tenantId: row.tenantId,
      configurationId: row.configurationId,
      groupId: row.groupId,
    };
    if (read.state === 'not-found') {
      summary.configurationNotFound++;
      return { ...base, plan: 'configuration-not-found', assignmentId: null, reason: read.reason };
    }
    if (read.state === 'unreadable') {
      summary.unreadable++;
      return { ...base, plan: 'unreadable', assignmentId: null, reason: read.reason };
    }
    const assignmentId = read.byGroup.get(row.groupId);
    if (assignmentId !== undefined) {
      summary.alreadyAssigned++;
      c.alreadyAssigned++;
      return { ...base, plan: 'already-assigned', assignmentId, reason: null };
    }
    summary.wouldCreate++;
    c.wouldCreate++;
    return { ...base, plan: 'would-create', assignmentId: null, reason: null };
  });

  return { rows, configurations: planned, summary };
}

/** A configuration's whole listing, or why there is none: 404 is not-found, any other failure unreadable. */
export type ListingRead =
  { state: 'read'; assignments: Assignment[] } | { state: 'not-found' | 'unreadable'; reason: PlanReason };

/**
 * Reads a configuration's assignments through `lister` (its pacing and retries). A GraphFailure ends
 * the read with its reason; any other error is a bug and is thrown.
 */
export async function readListing(
  lister: AssignmentLister,
  tenantId: string,
  configurationId: string,
): Promise<ListingRead> {
  try {
    return { state: 'read', assignments: await lister.listAll(tenantId, configurationId) };
  } catch (err) {
    if (!(err instanceof GraphFailure)) throw err;
    const reason: PlanReason = {
      code: err.code,
      errorCode: err.graphCode ?? null,
      message: err.message,
      httpStatus: err.httpStatus ?? null,
      requestId: err.requestId ?? null,
    };
    return { state: err.code === GraphFailureCodes.NOT_FOUND ? 'not-found' : 'unreadable', reason };
  }
}

async function readConfiguration(
  graph: AssignmentLister,
  kind: AssignmentKind,
  tenantId: string,
  configurationId: string,
): Promise<ConfigurationRead> {
  const read = await readListing(graph, tenantId, configurationId);
  if (read.state !== 'read') return read;
  // Group ids come lower-cased from the kind's reading, as rows' ids are; the first assignment of a
  // group wins, as in the workers' listings.
  const byGroup = new Map<string, string>();
  for (const a of read.assignments) {
    const group = kind.assignedGroup(a);
    if (group !== undefined && !byGroup.has(group)) byGroup.set(group, a.id);
  }
  return { state: 'read', byGroup, count: read.assignments.length };
}

function configurationKey(tenantId: string, configurationId: string): string {
  return `${tenantId}/${configurationId}`;
}

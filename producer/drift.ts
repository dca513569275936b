import type { AssignmentRow } from '../lib/assignment-row.js';
import type { AssignmentKind } from '../lib/graph/assignment-kind.js';
import type { DesiredState } from '../lib/queues/sync-queue.js';
import type { ListingRead, PlanReason } from './dry-run-plan.js';

/** An assignment Intune has that the desired state does not want (or wants only once). */
export interface DriftAssignment {
  assignmentId: string;
  /** The group it targets; null for targets that name none (all devices, all users, …). */
  groupId: string | null;
  targetType: string | null;
}

/**
 * One configuration of the desired state compared with what Graph holds now.
 * - missing: groups of the file with no assignment (would be created);
 * - present: groups of the file that are assigned (the first assignment of each);
 * - extra: group assignments of groups the file does not list (the first of each group);
 * - duplicate: the second and later assignments of any group;
 * - otherTargets: assignments the kind does not count as assigning a group (all devices, all users,
 *   exclusions, another intent); the file cannot name them, so they are reported and never pruned.
 * A configuration Graph answered 404 for is `not-found`; one that could not be read after retries
 * is `unreadable` and is left out of the apply: "could not read" is never "has no assignments".
 */
export interface ConfigurationDrift {
  tenantId: string;
  configurationId: string;
  state: 'read' | 'not-found' | 'unreadable';
  desiredGroups: number;
  /** Assignments the configuration has now, of every target kind; null when not read. */
  existingAssignments: number | null;
  missing: string[];
  present: { groupId: string; assignmentId: string }[];
  extra: DriftAssignment[];
  duplicate: DriftAssignment[];
  otherTargets: DriftAssignment[];
  reason: PlanReason | null;
}

export interface DriftSummary {
  tenants: number;
  configurations: number;
  missing: number;
  present: number;
  extra: number;
  duplicate: number;
  otherTargets: number;
  configurationNotFound: number;
  unreadable: number;
}

export interface Drift {
  /** In the file's order. */
  configurations: ConfigurationDrift[];
  summary: DriftSummary;
}

/** What reading one configuration found, as the drift needs it. */
export type ConfigurationRead = ListingRead;

/**
 * Compares one configuration. Assignments are taken in Graph's order: the first assignment of a
 * group is the one kept (the same one the workers' listings map a group to), later ones are
 * duplicates. Which group an assignment assigns, if any, is the kind's to say.
 */
export function configurationDrift(
  tenantId: string,
  configurationId: string,
  groups: readonly string[],
  read: ConfigurationRead,
  kind: AssignmentKind,
): ConfigurationDrift {
  const drift: ConfigurationDrift = {
    tenantId,
    configurationId,
    state: read.state,
    desiredGroups: groups.length,
    existingAssignments: null,
    missing: [],
    present: [],
    extra: [],
    duplicate: [],
    otherTargets: [],
    reason: null,
  };
  if (read.state !== 'read') {
    drift.reason = read.reason;
    return drift;
  }
  drift.existingAssignments = read.assignments.length;
  const wanted = new Set(groups);
  const seen = new Set<string>();
  for (const a of read.assignments) {
    const group = kind.assignedGroup(a);
    const entry: DriftAssignment = {
      assignmentId: a.id,
      groupId: group ?? a.groupId ?? null,
      targetType: a.targetType ?? null,
    };
    if (group === undefined) drift.otherTargets.push(entry);
    else if (seen.has(group)) drift.duplicate.push(entry);
    else {
      seen.add(group);
      if (wanted.has(group)) drift.present.push({ groupId: group, assignmentId: a.id });
      else drift.extra.push(entry);
    }
  }
  for (const g of groups) if (!seen.has(g)) drift.missing.push(g);
  return drift;
}

/** The drift of every configuration of the desired state, given how each read went. */
export function desiredStateDrift(
  desired: DesiredState,
  readOf: (tenantId: string, configurationId: string) => ConfigurationRead,
  kind: AssignmentKind,
): Drift {
  const configurations: ConfigurationDrift[] = [];
  for (const t of desired.tenants) {
    for (const c of t.configurations)
      configurations.push(
        configurationDrift(t.tenantId, c.configurationId, c.groups, readOf(t.tenantId, c.configurationId), kind),
      );
  }
  const summary: DriftSummary = {
    tenants: desired.tenants.length,
    configurations: configurations.length,
    missing: 0,
    present: 0,
    extra: 0,
    duplicate: 0,
    otherTargets: 0,
    configurationNotFound: 0,
    unreadable: 0,
  };
  for (const c of configurations) {
    summary.missing += c.missing.length;
    summary.present += c.present.length;
    summary.extra += c.extra.length;
    summary.duplicate += c.duplicate.length;
    summary.otherTargets += c.otherTargets.length;
    if (c.state === 'not-found') summary.configurationNotFound++;
    if (c.state === 'unreadable') summary.unreadable++;
  }
  return { configurations, summary };
}

/** Default --prune-threshold: the share of a configuration's assignments one prune may remove. */
export const DEFAULT_PRUNE_THRESHOLD_PERCENT = 10;

/** What a prune would remove from one configuration, and whether the threshold allows it. */
export interface PruneCheck {
  tenantId: string;
  configurationId: string;
  wouldDelete: number;
  existingAssignments: number;
  /** wouldDelete as a percentage of existingAssignments (100 when there were none). */
  percent: number;
  allowed: boolean;
}

/**
 * The safety threshold: a prune may remove at most `thresholdPercent` of a configuration's current
 * assignments. A half-written desired-state file (a configuration with its groups cut off) reads as
 * "remove nearly everything"; this is what stops it from wiping a tenant.
 */
export function pruneChecks(drift: Drift, thresholdPercent: number): PruneCheck[] {
  const checks: PruneCheck[] = [];
  for (const c of drift.configurations) {
    const wouldDelete = c.extra.length + c.duplicate.length;
    if (c.state !== 'read' || wouldDelete === 0) continue;
    const existing = c.existingAssignments ?? 0;
    const percent = existing > 0 ? (wouldDelete / existing) * 100 : 100;
    checks.push({
      tenantId: c.tenantId,
      configurationId: c.configurationId,
      wouldDelete,
      existingAssignments: existing,
      percent,
      allowed: wouldDelete <= (existing * thresholdPercent) / 100,
    });
  }
  return checks;
}

/**
 * The rows that make Intune match the file: per configuration (file order) the missing groups to
 * create, then, when pruning, the extra and duplicate assignments to delete. Configurations that
 * were not read contribute nothing.
 */
export function driftRows(drift: Drift, prune: boolean): AssignmentRow[] {
  const rows: AssignmentRow[] = [];
  for (const c of drift.configurations) {
    if (c.state !== 'read') continue;
    for (const groupId of c.missing) rows.push({ tenantId: c.tenantId, configurationId: c.configurationId, groupId });
    if (!prune) continue;
    for (const a of [...c.extra, ...c.duplicate]) {
      rows.push({
        tenantId: c.tenantId,
        configurationId: c.configurationId,
        groupId: a.groupId ?? '',
        assignmentId: a.assignmentId,
      });
    }
  }
  return rows;
}

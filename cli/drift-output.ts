import type { ConfigurationDrift } from '../producer/drift.js';
import type { SyncOptions } from '../lib/queues/sync-queue.js';
import type { SyncPlan } from '../producer/desired-state-sync.js';
import type { EnqueueResult } from '../producer/enqueue-rollout.js';
import { formatTable, type TableColumn } from './text-table.js';

/** Human output lists at most this many configurations, and this many drift lines. */
const MAX_CONFIGURATION_LINES = 50;
const MAX_DETAIL_LINES = 50;

/** `sync --dry-run --json` and `sync --json`: the drift and what was (or would be) done about it. */
export interface SyncJson {
  dryRun: boolean;
  source: string;
  summary: SyncPlan['drift']['summary'];
  prune: {
    enabled: boolean;
    force: boolean;
    thresholdPercent: number;
    /** Assignments the prune deletes (would delete, in a dry run). */
    wouldDelete: number;
    /** Configurations over the threshold: the sync refuses unless --force. */
    refused: SyncPlan['pruneChecks'];
  };
  decision: SyncPlan['decision']['kind'];
  /** The rollout that applies the drift; null in a dry run, without drift, or when refused. */
  rollout: EnqueueResult | null;
  configurations: ConfigurationDrift[];
  /** The same drift as one flat list, one entry per group or assignment (and per configuration not read). */
  entries: DriftEntry[];
}

/** One line of the drift, for scripts: `kind` is what the sync does (or cannot do) about it. */
export interface DriftEntry {
  kind: 'missing' | 'present' | 'extra' | 'duplicate' | 'other-target' | 'configuration-not-found' | 'unreadable';
  tenantId: string;
  configurationId: string;
  groupId: string | null;
  assignmentId: string | null;
  /** For configuration-not-found and unreadable: why. */
  message: string | null;
}

/** Flattens the drift in file order: per configuration, missing, present, extra, duplicate, other targets. */
export function driftEntries(configurations: readonly ConfigurationDrift[]): DriftEntry[] {
  const entries: DriftEntry[] = [];
  for (const c of configurations) {
    const at = { tenantId: c.tenantId, configurationId: c.configurationId };
    if (c.state !== 'read') {
      entries.push({
        kind: c.state === 'not-found' ? 'configuration-not-found' : 'unreadable',
        ...at,
        groupId: null,
        assignmentId: null,
        message: c.reason?.message ?? null,
      });
      continue;
    }
    for (const groupId of c.missing)
      entries.push({ kind: 'missing', ...at, groupId, assignmentId: null, message: null });
    for (const p of c.present)
      entries.push({ kind: 'present', ...at, groupId: p.groupId, assignmentId: p.assignmentId, message: null });
    for (const e of c.extra)
      entries.push({ kind: 'extra', ...at, groupId: e.groupId, assignmentId: e.assignmentId, message: null });
    for (const d of c.duplicate)
      entries.push({ kind: 'duplicate', ...at, groupId: d.groupId, assignmentId: d.assignmentId, message: null });
    for (const o of c.otherTargets)
      entries.push({ kind: 'other-target', ...at, groupId: null, assignmentId: o.assignmentId, message: o.targetType });
  }
  return entries;
}

export function syncJson(
  plan: SyncPlan,
  options: SyncOptions & { dryRun: boolean; source: string },
  rollout: EnqueueResult | null,
): SyncJson {
  return {
    dryRun: options.dryRun,
    source: options.source,
    summary: plan.drift.summary,
    prune: {
      enabled: options.prune,
      force: options.force,
      thresholdPercent: options.pruneThresholdPercent,
      wouldDelete: plan.pruneChecks.reduce((n, c) => n + c.wouldDelete, 0),
      refused: plan.pruneChecks.filter((c) => !c.allowed),
    },
    decision: plan.decision.kind,
    rollout,
    configurations: plan.drift.configurations,
    entries: driftEntries(plan.drift.configurations),
  };
}

/**
 * 0 when every configuration was read and nothing was refused; 1 when some configuration was not
 * found or could not be read, or (in a dry run) a prune would be refused.
 */
export function syncExitCode(plan: SyncPlan): number {
  const s = plan.drift.summary;
  return s.configurationNotFound + s.unreadable > 0 || plan.decision.kind === 'refused' ? 1 : 0;
}

/** The drift for a person: counts, a table of configurations, then what differs, each list capped. */
export function formatDrift(plan: SyncPlan, options: SyncOptions & { dryRun: boolean; source: string }): string {
  const s = plan.drift.summary;
  const out: string[] = [];
  out.push(
    `${options.dryRun ? 'dry run' : 'sync'}   ${options.source}: ${plural(s.tenants, 'tenant')}, ${plural(s.configurations, 'configuration')}${options.dryRun ? '; nothing was written' : ''}`,
  );
  out.push(`missing (to create)       ${s.missing}`);
  out.push(`present                   ${s.present}`);
  out.push(
    `extra                     ${s.extra}${!s.extra ? '' : options.prune ? ' (to delete)' : ' (reported only; --prune deletes them)'}`,
  );
  out.push(
    `duplicate                 ${s.duplicate}${!s.duplicate ? '' : options.prune ? ' (to delete)' : ' (reported only; --prune deletes them)'}`,
  );
  if (s.otherTargets) out.push(`other targets             ${s.otherTargets} (not groups: reported, never pruned)`);
  out.push(`configuration not found   ${s.configurationNotFound}`);
  out.push(
    `unreadable                ${s.unreadable}${s.unreadable ? ' (left out: could not read is not "no assignments")' : ''}`,
  );

  if (plan.drift.configurations.length > 0) {
    out.push('');
    out.push(formatTable(CONFIGURATION_COLUMNS, plan.drift.configurations.slice(0, MAX_CONFIGURATION_LINES)).trimEnd());
    const more = plan.drift.configurations.length - MAX_CONFIGURATION_LINES;
    if (more > 0) out.push(`… ${plural(more, 'more configuration')} (--json lists them all)`);
  }

  const details = detailLines(plan.drift.configurations);
  if (details.length > 0) {
    out.push('');
    out.push(
      `drift${details.length > MAX_DETAIL_LINES ? ` (the first ${MAX_DETAIL_LINES} of ${details.length} lines; --json lists all)` : ''}:`,
    );
    out.push(...details.slice(0, MAX_DETAIL_LINES));
  }

  if (options.prune && plan.pruneChecks.length > 0) {
    const refused = plan.pruneChecks.filter((c) => !c.allowed);
    out.push('');
    if (refused.length === 0 || options.force) {
      out.push(
        `prune: ${plural(
          plan.pruneChecks.reduce((n, c) => n + c.wouldDelete, 0),
          'assignment',
        )} to delete${refused.length ? ` (--force: past the ${options.pruneThresholdPercent}% threshold in ${plural(refused.length, 'configuration')})` : ''}`,
      );
    } else {
      out.push(
        `prune refused: more than ${options.pruneThresholdPercent}% of a configuration's assignments would go in ${plural(refused.length, 'configuration')}:`,
      );
      for (const c of refused)
        out.push(
          `  ${c.tenantId}/${c.configurationId}: ${c.wouldDelete} of ${c.existingAssignments} (${round(c.percent)}%)`,
        );
      out.push('  check the file; --force prunes anyway, --prune-threshold <percent> sets the limit');
    }
  }
  return `${out.join('\n')}\n`;
}

const count = (header: string, value: (c: ConfigurationDrift) => number): TableColumn<ConfigurationDrift> => ({
  header,
  align: 'right',
  value: (c) => String(value(c)),
});

const CONFIGURATION_COLUMNS: TableColumn<ConfigurationDrift>[] = [
  { header: 'tenant', value: (c) => c.tenantId },
  { header: 'configuration', value: (c) => c.configurationId },
  { header: 'graph', value: (c) => (c.state === 'read' ? `${c.existingAssignments ?? 0} now` : c.state) },
  count('desired', (c) => c.desiredGroups),
  count('missing', (c) => c.missing.length),
  count('present', (c) => c.present.length),
  count('extra', (c) => c.extra.length),
  count('duplicate', (c) => c.duplicate.length),
];

/** One line per difference, configuration by configuration. */
function detailLines(configurations: readonly ConfigurationDrift[]): string[] {
  const lines: string[] = [];
  for (const c of configurations) {
    const where = `${c.tenantId}/${c.configurationId}`;
    if (c.state !== 'read') {
      const r = c.reason;
      const why = r
        ? `${r.code}${r.errorCode ? ` ${r.errorCode}` : ''}${r.httpStatus ? ` (HTTP ${r.httpStatus})` : ''}: ${r.message}`
        : '';
      lines.push(`  ${c.state === 'not-found' ? 'not found ' : 'unreadable'} ${where}: ${why}`);
      continue;
    }
    for (const g of c.missing) lines.push(`  missing    ${where} group ${g}`);
    for (const a of c.extra) lines.push(`  extra      ${where} group ${a.groupId} (assignment ${a.assignmentId})`);
    for (const a of c.duplicate) lines.push(`  duplicate  ${where} group ${a.groupId} (assignment ${a.assignmentId})`);
    for (const a of c.otherTargets)
      lines.push(`  other      ${where} ${a.targetType ?? 'unknown target'} (assignment ${a.assignmentId})`);
  }
  return lines;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function round(n: number): string {
  return n.toFixed(1).replace(/\.0$/, '');
}

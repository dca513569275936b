import { connectGraph } from '../lib/graph/graph-connection.js';
import { loadConfig, requireGraphCredentials } from '../lib/config.js';
import { readRolloutFile } from '../producer/rollout-file.js';
import { AssignmentReader, readsPerSecondFor } from '../producer/assignment-reader.js';
import { planRollout, type PlannedRow, type PlanSummary, type RolloutPlan } from '../producer/dry-run-plan.js';

/** Configurations read at the same time by a dry run. */
const DRY_RUN_CONCURRENCY = 4;
/** Tries per page read (the first included) before a configuration counts as unreadable. */
const DRY_RUN_READ_ATTEMPTS = 4;
/** Human output lists at most this many configurations, and this many rows needing attention. */
const MAX_CONFIGURATION_LINES = 50;
const MAX_ATTENTION_LINES = 20;

/** `enqueue --dry-run --json`: the plan as one JSON object. */
export interface DryRunJson {
  dryRun: true;
  summary: PlanSummary;
  rows: PlannedRow[];
}

/**
 * `assignments enqueue <file> --dry-run [--json]`: validates the file, reads the current assignments
 * of each configuration it names, and prints what a rollout would do. Reads only: nothing is written
 * to Graph, and Redis is never connected to. Returns the exit code: 0 when every row would be created
 * or is already assigned, 1 when some rows' configuration was not found or could not be read.
 * Bad configuration or input throws the UserError (exit 2).
 */
export async function runDryRun(file: string, options: { json?: boolean }): Promise<number> {
  const config = loadConfig();
  requireGraphCredentials(config, 'for a dry run (it reads from Graph)');
  const input = await readRolloutFile(file, { defaultTenantId: config.tenantId });

  // Wired as in worker-process.ts, minus the lanes: a dry run is one process that only reads.
  const api = connectGraph(config, DRY_RUN_CONCURRENCY + 4);
  const reader = new AssignmentReader(api, {
    maxRequestsPerSecond: readsPerSecondFor(config.rateLimit),
    maxAttempts: DRY_RUN_READ_ATTEMPTS,
    baseDelayMs: config.retryBaseDelayMs,
  });
  const plan = await planRollout(input, reader, { concurrency: DRY_RUN_CONCURRENCY, kind: api.kind });

  process.stdout.write(
    options.json
      ? `${JSON.stringify(dryRunJson(plan))}\n`
      : formatDryRun(plan, { file, duplicateRows: input.duplicateRows }),
  );
  return dryRunExitCode(plan);
}

export function dryRunJson(plan: RolloutPlan): DryRunJson {
  return { dryRun: true, summary: plan.summary, rows: plan.rows };
}

/** 0 when the rollout could run every row; 1 when some rows need attention first. */
export function dryRunExitCode(plan: RolloutPlan): number {
  return plan.summary.configurationNotFound + plan.summary.unreadable > 0 ? 1 : 0;
}

/**
 * The human form (`file` as given, `-` for stdin): summary lines, a table of configurations with
 * their counts, then the rows that need attention (not found, unreadable), each list capped.
 */
export function formatDryRun(plan: RolloutPlan, context: { file: string; duplicateRows: number }): string {
  const s = plan.summary;
  const source = context.file === '-' ? 'stdin' : context.file;
  const tenants = new Set(plan.rows.map((r) => r.tenantId)).size;
  const out: string[] = [];
  const dropped = context.duplicateRows ? ` (${plural(context.duplicateRows, 'duplicate row')} dropped)` : '';
  out.push(
    `dry run   ${source}: ${plural(s.total, 'row')}${dropped} over ${plural(tenants, 'tenant')}, ${plural(s.configurations, 'configuration')}; nothing was written`,
  );
  out.push(`would create            ${s.wouldCreate}`);
  out.push(`already assigned        ${s.alreadyAssigned}`);
  out.push(`configuration not found ${s.configurationNotFound}`);
  out.push(`unreadable              ${s.unreadable}`);

  if (plan.configurations.length > 0) {
    out.push('');
    const idWidth = 36;
    out.push(
      `${'tenant'.padEnd(idWidth)}  ${'configuration'.padEnd(idWidth)}  ${'rows'.padStart(6)}  ${'create'.padStart(6)}  ${'already'.padStart(7)}  graph`,
    );
    for (const c of plan.configurations.slice(0, MAX_CONFIGURATION_LINES)) {
      const graph =
        c.state === 'read'
          ? `${plural(c.existingAssignments ?? 0, 'assignment')} now`
          : `${c.state === 'not-found' ? 'not found' : 'unreadable'} (${c.reason?.code ?? 'unknown'})`;
      out.push(
        `${c.tenantId.padEnd(idWidth)}  ${c.configurationId.padEnd(idWidth)}  ${String(c.rows).padStart(6)}  ${String(c.wouldCreate).padStart(6)}  ${String(c.alreadyAssigned).padStart(7)}  ${graph}`,
      );
    }
    const more = plan.configurations.length - MAX_CONFIGURATION_LINES;
    if (more > 0) out.push(`… ${plural(more, 'more configuration')} (--json lists every row)`);
  }

  const attention = plan.rows.filter((r) => r.plan === 'configuration-not-found' || r.plan === 'unreadable');
  if (attention.length > 0) {
    out.push('');
    out.push(
      `needs attention: ${plural(attention.length, 'row')}${attention.length > MAX_ATTENTION_LINES ? ` (the first ${MAX_ATTENTION_LINES} below; --json lists them all)` : ''}`,
    );
    for (const r of attention.slice(0, MAX_ATTENTION_LINES)) {
      const why = r.reason
        ? `${r.reason.code}${r.reason.errorCode ? ` ${r.reason.errorCode}` : ''}: ${r.reason.message}`
        : '';
      out.push(
        `  line ${r.line}: ${r.plan}, group ${r.groupId} of configuration ${r.configurationId} in tenant ${r.tenantId}; ${why}`,
      );
    }
  } else {
    out.push('');
    out.push(`next: assignments enqueue ${context.file === '-' ? '-' : shellWord(context.file)}`);
  }
  return `${out.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A path as typed at a shell: quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

import type { RolloutStatus } from './rollout-store.js';

/**
 * The words of a rollout's progress, shared by the live bar, the log lines and the summaries, so a
 * terminal and a CI log say the same thing. Pure functions of a RolloutStatus.
 */

/** Rows that have an outcome (created, already-assigned, deleted, already-deleted, failed or cancelled). */
export function rowsEnded(s: RolloutStatus): number {
  return s.total - s.pending;
}

/** `8.4s`, `41s`, `1m32s`, `2h05m`; `--` for an unknown duration. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '--';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * Whether the delete counts are worth showing: the rollout has delete rows, or delete outcomes. A
 * rollout that only creates shows no delete counts at all.
 */
export function hasDeletes(s: Pick<RolloutStatus, 'deleteRows' | 'deleted' | 'alreadyDeleted'>): boolean {
  return s.deleteRows > 0 || s.deleted > 0 || s.alreadyDeleted > 0;
}

/**
 * `created 1200 already 30 failed 4 cancelled 0`; with delete rows
 * `created 1200 already 30 deleted 12 already-deleted 1 failed 4 cancelled 0`.
 */
export function outcomeCounts(s: RolloutStatus): string {
  const deletes = hasDeletes(s) ? ` deleted ${s.deleted} already-deleted ${s.alreadyDeleted}` : '';
  return `created ${s.created} already ${s.alreadyAssigned}${deletes} failed ${s.failed} cancelled ${s.cancelled}`;
}

/** Tenant lanes paused now that still have rows of this rollout to send. */
export function pausedLanes(s: RolloutStatus): number {
  return s.tenants.filter((t) => t.pausedUntil !== null && t.pending > 0).length;
}

/** What follows the counts: paused lanes, and a cancellation that is still draining. */
export function progressNotes(s: RolloutStatus): string {
  const notes: string[] = [];
  const paused = pausedLanes(s);
  if (paused > 0) notes.push(`${paused} tenant lane${paused === 1 ? '' : 's'} paused`);
  if (s.state === 'cancelled') notes.push(`cancelling (${s.pending} rows left)`);
  return notes.map((n) => ` | ${n}`).join('');
}

/** Rows per second with one decimal; `0.0` while unknown. */
export function formatRate(perSecond: number | null): string {
  return (perSecond ?? 0).toFixed(1);
}

/** `progress 1234/5000 rows | 41.2/s | ETA 1m32s | created 1200 already 30 failed 4 cancelled 0` */
export function progressLine(s: RolloutStatus, perSecond: number | null, etaMs: number | null): string {
  return `progress ${rowsEnded(s)}/${s.total} rows | ${formatRate(perSecond)}/s | ETA ${formatDuration(etaMs)} | ${outcomeCounts(s)}${progressNotes(s)}`;
}

/** How a watch ended. */
export type WatchEnd = 'ended' | 'interrupted';

/**
 * The last line of a watch. A finished rollout says how long it took from enqueue to its last
 * outcome; an interrupted watch says where the rollout stands (it goes on without the watcher).
 */
export function summaryLine(s: RolloutStatus, end: WatchEnd): string {
  const rows = `${rowsEnded(s)}/${s.total} rows`;
  if (end === 'interrupted')
    return `stopped watching at ${rows} (rollout ${s.state}${s.state === 'running' ? ', it goes on' : ''}) | ${outcomeCounts(s)}`;
  if (s.state === 'cancelled') return `cancelled at ${s.cancelledAt ?? '?'}: ${rows} ended | ${outcomeCounts(s)}`;
  const took = s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.createdAt) : Number.NaN;
  return `finished ${rows}${Number.isFinite(took) ? ` in ${formatDuration(took)}` : ''} | ${outcomeCounts(s)}`;
}

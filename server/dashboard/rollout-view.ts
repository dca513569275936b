import type { Outcome } from '../../lib/outcome.js';
import type { RolloutStatus, RolloutStore, TenantProgress } from '../../lib/rollout/rollout-store.js';
import type { TenantLanes } from '../../lib/lanes/tenant-lanes.js';

/** A page of thousands of tenant lines or failed rows helps nobody; the report has them all. */
export const MAX_TENANTS = 1000;
export const MAX_FAILED_ROWS = 500;

export interface TenantLine extends TenantProgress {
  /** Lane pause in force now (ISO), or null when the lane is open. */
  lanePausedUntil: string | null;
  /** Spacing between the tenant's sends: GRAPH_RATE_LIMIT's, or the learned one (0 = none yet). */
  laneIntervalMs: number;
  /** The two above as the page shows them; the polling script writes these, so both agree. */
  laneText: string;
  intervalText: string;
}

/** What the rollout page and its polling endpoint show: the status plus the lanes' state. */
export interface RolloutView {
  status: Omit<RolloutStatus, 'tenants'>;
  /** succeeded + failed + cancelled. */
  done: number;
  /** done / total in whole percent (100 for an empty rollout). */
  percent: number;
  tenants: TenantLine[];
  /** Tenants beyond MAX_TENANTS, not shown. */
  tenantsNotShown: number;
}

export async function rolloutView(
  store: RolloutStore,
  lanes: TenantLanes,
  rolloutId: string,
): Promise<RolloutView | null> {
  const full = await store.status(rolloutId);
  if (!full) return null;
  const { tenants, ...status } = full;
  const shown = tenants.slice(0, MAX_TENANTS);
  const now = Date.now();
  const states = await Promise.all(shown.map((t) => lanes.state(t.tenantId)));
  return {
    status,
    ...progressOf(status),
    tenants: shown.map((t, i) => {
      const lane = states[i]!;
      const pausedUntil = lane.pausedUntil > now ? new Date(lane.pausedUntil).toISOString() : null;
      return {
        ...t,
        lanePausedUntil: pausedUntil,
        laneIntervalMs: lane.intervalMs,
        laneText: pausedUntil ? `paused until ${pausedUntil}` : 'open',
        intervalText: formatInterval(lane.intervalMs),
      };
    }),
    tenantsNotShown: tenants.length - shown.length,
  };
}

export function progressOf(s: Pick<RolloutStatus, 'total' | 'succeeded' | 'failed' | 'cancelled'>): {
  done: number;
  percent: number;
} {
  const done = s.succeeded + s.failed + s.cancelled;
  return { done, percent: s.total > 0 ? Math.floor((100 * Math.min(done, s.total)) / s.total) : 100 };
}

/**
 * The first `limit` failed rows in input order. The scan stops once it has them, or once it has
 * seen as many as the status counts, so a large rollout with few failures is not read to its end
 * more than once per page view.
 */
export async function failedRows(
  store: RolloutStore,
  rolloutId: string,
  failedCount: number,
  limit = MAX_FAILED_ROWS,
): Promise<Outcome[]> {
  const rows: Outcome[] = [];
  if (failedCount <= 0) return rows;
  const wanted = Math.min(limit, failedCount);
  for await (const { outcome, retries } of store.outcomes(rolloutId)) {
    if (outcome?.outcome !== 'failed') continue;
    rows.push({ ...outcome, retries });
    if (rows.length >= wanted) break;
  }
  return rows;
}

function formatInterval(ms: number): string {
  if (!(ms > 0)) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

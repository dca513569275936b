import type { Queue } from 'bullmq';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';
import type { DesiredState, SyncOptions } from '../lib/queues/sync-queue.js';
import type { AssignmentKind } from '../lib/graph/assignment-kind.js';
import { readListing, type AssignmentLister } from './dry-run-plan.js';
import {
  desiredStateDrift,
  driftRows,
  pruneChecks,
  type ConfigurationRead,
  type Drift,
  type PruneCheck,
} from './drift.js';
import { enqueueRollout, type EnqueueResult } from './enqueue-rollout.js';

/** What a sync decided, before anything is written. */
export type SyncDecision =
  /** Intune matches the file (as far as it could be read): nothing to write. */
  | { kind: 'no-drift' }
  /** --prune would remove more than the threshold allows in these configurations: nothing is written. */
  | { kind: 'refused'; refused: PruneCheck[] }
  | { kind: 'apply'; creates: number; deletes: number };

export interface SyncPlan {
  drift: Drift;
  /** Every configuration a prune would remove assignments from, allowed or not (only with --prune). */
  pruneChecks: PruneCheck[];
  decision: SyncDecision;
}

/** Configurations read at the same time; each tenant's lane paces its own reads. */
const READ_CONCURRENCY = 8;

/**
 * Reads every configuration of the desired state (all pages, through `lister`), at most
 * READ_CONCURRENCY at a time, and compares, with "assigned" as `kind` (the lister's) means it. A 404
 * makes the configuration `not-found`; any other failure after the lister's retries makes it
 * `unreadable`; neither stops the others.
 */
export async function readDrift(desired: DesiredState, lister: AssignmentLister, kind: AssignmentKind): Promise<Drift> {
  const pairs = desired.tenants.flatMap((t) =>
    t.configurations.map((c) => ({ tenantId: t.tenantId, configurationId: c.configurationId })),
  );
  const reads = new Map<string, ConfigurationRead>();
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < pairs.length) {
      const { tenantId, configurationId } = pairs[next++]!;
      reads.set(`${tenantId}/${configurationId}`, await readListing(lister, tenantId, configurationId));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, pairs.length) }, reader));
  return desiredStateDrift(desired, (t, c) => reads.get(`${t}/${c}`)!, kind);
}

/** Decides what to do about a drift; pure. */
export function planSync(drift: Drift, options: SyncOptions): SyncPlan {
  const checks = options.prune ? pruneChecks(drift, options.pruneThresholdPercent) : [];
  const refused = checks.filter((c) => !c.allowed);
  if (refused.length > 0 && !options.force)
    return { drift, pruneChecks: checks, decision: { kind: 'refused', refused } };
  const creates = drift.summary.missing;
  const deletes = options.prune ? checks.reduce((n, c) => n + c.wouldDelete, 0) : 0;
  return {
    drift,
    pruneChecks: checks,
    decision: creates + deletes === 0 ? { kind: 'no-drift' } : { kind: 'apply', creates, deletes },
  };
}

/**
 * Applies a plan whose decision is `apply` as one rollout through the usual pipeline (lanes,
 * retries, exactly-once, outcomes): creates for missing groups, deletes for extra and duplicate
 * assignments when pruning. Returns null for any other decision: nothing is written.
 */
export async function applySync(
  plan: SyncPlan,
  options: SyncOptions,
  deps: { queue: Queue<AssignmentJobData>; store: RolloutStore },
  rollout: { name?: string; source: string; rolloutId?: string },
): Promise<EnqueueResult | null> {
  if (plan.decision.kind !== 'apply') return null;
  const rows = driftRows(plan.drift, options.prune);
  return enqueueRollout(
    { rows, lines: rows.map(() => 0), inputRows: rows.length, duplicateRows: 0, format: 'json' },
    deps,
    rollout,
  );
}

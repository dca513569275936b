import type { BulkJobOptions } from 'bullmq';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { JOB_OPTIONS, jobIdOf, type AssignmentJobData } from '../lib/queue.js';

/** One entry of `queue.addBulk`: the job for one row. */
export interface RowJob {
  name: 'assign';
  data: AssignmentJobData;
  opts: BulkJobOptions;
}

/**
 * The jobs for consecutive rows of a rollout, the first being row `firstRow` (0-based). Job ids are
 * `<rolloutId>-<row>`, so adding a chunk twice adds nothing twice.
 */
export function rowJobs(rolloutId: string, firstRow: number, rows: readonly AssignmentRow[]): RowJob[] {
  return rows.map((row, i) => ({
    name: 'assign',
    data: { rolloutId, row: firstRow + i, tenantId: row.tenantId, configurationId: row.configurationId, groupId: row.groupId },
    opts: { ...JOB_OPTIONS, jobId: jobIdOf(rolloutId, firstRow + i) },
  }));
}

import type { BulkJobOptions } from 'bullmq';
import type { AssignmentRow } from '../lib/assignment-row.js';
import {
  JOB_OPTIONS,
  jobDataOf,
  jobIdOf,
  jobNameOf,
  type AssignmentJobData,
  type AssignmentJobName,
} from '../lib/queues/assignment-queue.js';

/** One entry of `queue.addBulk`: the job for one row. */
export interface RowJob {
  name: AssignmentJobName;
  data: AssignmentJobData;
  opts: BulkJobOptions;
}

/**
 * The jobs for consecutive rows of a rollout, the first being row `firstRow` (0-based). Job ids are
 * `<rolloutId>-<row>`, so adding a chunk twice adds nothing twice. Delete rows become `delete` jobs
 * carrying their `assignmentId`.
 */
export function rowJobs(rolloutId: string, firstRow: number, rows: readonly AssignmentRow[]): RowJob[] {
  return rows.map((row, i) => ({
    name: jobNameOf(row),
    data: jobDataOf(rolloutId, firstRow + i, row),
    opts: { ...JOB_OPTIONS, jobId: jobIdOf(rolloutId, firstRow + i) },
  }));
}

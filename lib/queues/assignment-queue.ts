import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { isDeleteRow, type AssignmentRow } from '../assignment-row.js';

/** The one BullMQ queue of assignment jobs. */
export const QUEUE_NAME = 'assignments';

/** A job: one row of a rollout. Carries ids only; no secret ever goes into Redis. */
export interface AssignmentJobData {
  rolloutId: string;
  /** 0-based position of the row in the rollout (input order, duplicates removed). */
  row: number;
  tenantId: string;
  configurationId: string;
  groupId: string;
  /** Present on a delete row: the assignment to DELETE (see AssignmentRow). Absent on a create row. */
  assignmentId?: string;
  /** Set by the worker at the row's first transient failure: RETRY_MAX_AGE_MS counts from here. */
  firstFailedAt?: number;
  /**
   * Set by the worker when the row ran out of attempts after a POST (or DELETE) that may have landed:
   * one last look decides between the outcome of that request and `failed` with this reason; no new
   * request.
   */
  gaveUp?: GaveUp;
}

export interface GaveUp {
  httpStatus: number | null;
  requestId: string | null;
  code: string;
  errorCode: string | null;
  errorMessage: string;
}

/** A job's name: `delete` for a delete row, `assign` for a create row (the data decides; the name is for people). */
export type AssignmentJobName = 'assign' | 'delete';

export function jobNameOf(row: Pick<AssignmentRow, 'assignmentId'>): AssignmentJobName {
  return isDeleteRow(row) ? 'delete' : 'assign';
}

/** A row's job data (`row` 0-based); a delete row carries its `assignmentId`, a create row has none. */
export function jobDataOf(rolloutId: string, row: number, r: AssignmentRow): AssignmentJobData {
  const data: AssignmentJobData = {
    rolloutId,
    row,
    tenantId: r.tenantId,
    configurationId: r.configurationId,
    groupId: r.groupId,
  };
  if (isDeleteRow(r)) data.assignmentId = r.assignmentId;
  return data;
}

/** BullMQ job ids must not contain ':' nor be all digits. */
export function jobIdOf(rolloutId: string, row: number): string {
  return `${rolloutId}-${row}`;
}

/**
 * Job options: the worker's retry policy decides when a row has failed, so BullMQ's own attempt
 * budget is only a backstop far above RETRY_MAX_ATTEMPTS. Finished jobs are removed at once: the
 * outcome lives with the rollout, so Redis does not grow with history.
 */
export const JOB_OPTIONS = {
  attempts: 1000,
  backoff: { type: 'graph' },
  removeOnComplete: true,
  removeOnFail: true,
} as const;

export function openQueue(connection: Redis, prefix: string): Queue<AssignmentJobData> {
  return new Queue<AssignmentJobData>(QUEUE_NAME, { connection, prefix });
}

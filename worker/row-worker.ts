import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import { QUEUE_NAME, type AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { AssignmentProcessor } from './assignment-processor.js';
import { RetryLater, rowBackoffStrategy } from './retry-policy.js';

export interface RowWorkerOptions {
  /** A connection of the Worker's own: BullMQ blocks on it. */
  connection: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** WORKER_CONCURRENCY: rows in flight at once in this process. */
  concurrency: number;
  /** WORKER_LOCK_MS: how long a row stays with a worker that stopped renewing it. */
  lockMs: number;
  /** RETRY_BASE_DELAY_MS, for a row that failed in a way its processor did not decide on. */
  baseDelayMs: number;
  logger: Logger;
}

/** The BullMQ Worker of the assignments queue: it takes rows to the processor, one per job. */
export function startRowWorker(processor: AssignmentProcessor, options: RowWorkerOptions): Worker<AssignmentJobData> {
  const { logger } = options;
  const worker = new Worker<AssignmentJobData>(
    QUEUE_NAME,
    (job: Job<AssignmentJobData>, token?: string) => processor.process(job, token),
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: Math.min(30_000, options.lockMs),
      // A row whose worker died is re-run, and the marker check makes that safe; failing it for
      // stalling would end it without an outcome.
      maxStalledCount: 20,
      settings: { backoffStrategy: rowBackoffStrategy(options.baseDelayMs) },
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!(err instanceof RetryLater))
      logger.error({ err, jobId: job?.id }, 'unexpected error in a row; it will be retried');
  });
  return worker;
}

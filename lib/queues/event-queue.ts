import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventRule } from './event-rule.js';

/** The BullMQ queue of accepted events; workers turn each into a rollout when rules match. */
export const EVENTS_QUEUE_NAME = 'events';

/** Where an event came from. */
export type EventSource = 'events' | 'graph-webhook';

/** An event as accepted by the server: an HR/identity system's, or one made from a Graph change notification. */
export interface AssignmentEvent {
  /** The sender's id (idempotent delivery); for Graph notifications, made from the notification. */
  id: string;
  /** e.g. group.created, group.updated. */
  type: string;
  tenantId: string;
  groupId: string;
  attributes: Record<string, string | number | boolean>;
  source: EventSource;
  receivedAt: string;
}

/**
 * An event job: the event and the rules that matched it on everything but the group's display name
 * (the worker reads the group from Graph when one of them needs it). The rules travel with the job,
 * so workers do not need RULES_FILE.
 */
export interface EventJobData {
  event: AssignmentEvent;
  rules: EventRule[];
}

/** Event jobs retry a failed group read or enqueue a few times, then stay failed for inspection. */
export const EVENT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: true,
  removeOnFail: 1000,
} as const;

export function openEventQueue(connection: Redis, prefix: string): Queue<EventJobData> {
  return new Queue<EventJobData>(EVENTS_QUEUE_NAME, { connection, prefix });
}

/**
 * Queues an event as one job, debounced per (tenant, group, matching rules): a burst of events
 * that would assign the same group to the same configurations becomes the one job that runs
 * `debounceMs` after the last of them, carrying the latest event. Returns whether the event was
 * folded into a job already pending.
 */
export async function enqueueEvent(
  queue: Queue<EventJobData>,
  data: EventJobData,
  debounceMs: number,
): Promise<{ debounced: boolean }> {
  const e = data.event;
  if (debounceMs <= 0) {
    await queue.add('event', data, EVENT_JOB_OPTIONS);
    return { debounced: false };
  }
  const rules = data.rules
    .map((r) => r.name)
    .sort()
    .join(',');
  const id = `${e.tenantId}/${e.groupId}/${rules}`;
  const pending = await queue.getDeduplicationJobId(id);
  await queue.add('event', data, {
    ...EVENT_JOB_OPTIONS,
    delay: debounceMs,
    deduplication: { id, ttl: debounceMs, extend: true, replace: true },
  });
  return { debounced: pending !== null };
}

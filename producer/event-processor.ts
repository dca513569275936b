import { randomUUID } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import type { Logger } from '../lib/logger.js';
import type { AssignmentJobData } from '../lib/queues/assignment-queue.js';
import type { RolloutStore } from '../lib/rollout/rollout-store.js';
import type { EventJobData } from '../lib/queues/event-queue.js';
import { matchedConfigurations, needsDisplayName } from './event-rules.js';
import { callThroughLane } from '../lib/lanes/lane-call.js';
import { enqueueRolloutOnce, rolloutIdFor } from './rollout-once.js';
import type { LaneBoundGraph } from '../lib/lanes/lane-bound-graph.js';

export interface EventProcessorDeps {
  store: RolloutStore;
  queue: Queue<AssignmentJobData>;
  graph: LaneBoundGraph;
  /** RETRY_MAX_ATTEMPTS and RETRY_BASE_DELAY_MS, for the group read. */
  readAttempts: number;
  baseDelayMs: number;
  signal?: AbortSignal;
  logger: Logger;
}

export interface EventJobResult {
  rolloutId: string | null;
  configurations: string[];
  rules: string[];
}

/**
 * An event job (see producer/event-queue.ts): the rules it carries matched the event on type,
 * tenant and attributes; a rule with a display-name condition needs the group, read from Graph
 * (`GET /groups/{id}`, through the tenant's lane). The configurations of the rules that match
 * become one rollout of the group, named after the event, through the normal pipeline. The
 * rollout id comes from the job id, so a re-run of the job (its worker died) makes no second one.
 */
export class EventProcessor {
  constructor(private readonly deps: EventProcessorDeps) {}

  async process(job: Job<EventJobData>): Promise<EventJobResult> {
    const { event, rules } = job.data;
    const log = this.deps.logger.child({
      eventId: event.id,
      eventType: event.type,
      tenantId: event.tenantId,
      groupId: event.groupId,
      jobId: job.id,
    });
    const displayName = needsDisplayName(rules) ? await this.displayName(event.tenantId, event.groupId) : null;
    const matched = matchedConfigurations(rules, displayName);
    if (matched.configurationIds.length === 0) {
      log.info(
        { displayName, rules: rules.map((r) => r.name) },
        'event matched no rule once the group was read; nothing to assign',
      );
      return { rolloutId: null, configurations: [], rules: [] };
    }
    const rolloutId = rolloutIdFor('event', job.id ?? `${event.id}-${job.timestamp}`);
    const rows = matched.configurationIds.map((configurationId) => ({
      tenantId: event.tenantId,
      configurationId,
      groupId: event.groupId,
    }));
    const { resumed } = await enqueueRolloutOnce(
      rolloutId,
      rows,
      { queue: this.deps.queue, store: this.deps.store },
      {
        name: `${event.type} ${event.id}`,
        source: `event ${event.id} (${event.source}; rules ${matched.rules.join(', ')})`,
      },
    );
    log.info(
      { rolloutId, rules: matched.rules, configurations: matched.configurationIds.length, resumed },
      resumed === null ? 'event became a rollout' : 'event rollout resumed',
    );
    return { rolloutId, configurations: matched.configurationIds, rules: matched.rules };
  }

  /** The group's display name, or null when Graph says the group does not exist. */
  private async displayName(tenantId: string, groupId: string): Promise<string | null> {
    const { graph } = this.deps;
    const ctx = { tenantId, owner: `event-read-${randomUUID()}`, clientRequestId: randomUUID() };
    const { group } = await callThroughLane(graph, ctx, (o) => graph.api.getGroup(tenantId, groupId, o), {
      maxAttempts: this.deps.readAttempts,
      baseDelayMs: this.deps.baseDelayMs,
      signal: this.deps.signal,
    });
    return group?.displayName ?? null;
  }
}

import { randomUUID } from 'node:crypto';
import type { Assignment } from '../lib/graph/assignment.js';
import type { LaneBoundGraph, CallerContext } from '../lib/lanes/lane-bound-graph.js';
import type { AssignmentLister } from './dry-run-plan.js';
import { callThroughLane, type LaneCallOptions } from '../lib/lanes/lane-call.js';

/**
 * Whole listings of a configuration's assignments for a sync, each page through the tenant's lane,
 * the same Redis lane the workers' POSTs and DELETEs pass: a sync's reads take slots in turn with a
 * running rollout of the tenant instead of adding a second stream of requests Graph would throttle.
 * A page that fails in a way worth retrying is retried in place (see callThroughLane): a retry of
 * page 7 does not start over from page 1.
 */
export class LaneAssignmentReader implements AssignmentLister {
  constructor(
    private readonly graph: LaneBoundGraph,
    private readonly options: LaneCallOptions,
  ) {}

  async listAll(tenantId: string, configurationId: string): Promise<Assignment[]> {
    const { graph } = this;
    const ctx: CallerContext = { tenantId, owner: `sync-read-${randomUUID()}`, clientRequestId: randomUUID() };
    const all: Assignment[] = [];
    let next: string | undefined;
    do {
      const page = await callThroughLane(
        graph,
        ctx,
        (o) => graph.api.listPage(tenantId, configurationId, next, o),
        this.options,
      );
      all.push(...page.assignments);
      next = page.nextLink;
    } while (next);
    return all;
  }
}

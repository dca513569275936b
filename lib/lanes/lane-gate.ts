import { setTimeout as sleep } from 'node:timers/promises';
import type { TenantLanes, AdmitOptions } from './tenant-lanes.js';

/**
 * Thrown when a row must wait for its lane longer than is worth holding a worker slot: the
 * processor parks the job in BullMQ's delayed set until `untilMs` (no attempt spent), and the slot
 * goes to another tenant's row meanwhile.
 */
export class LaneWait extends Error {
  constructor(readonly untilMs: number) {
    super(`waiting for the tenant lane until ${new Date(untilMs).toISOString()}`);
    this.name = 'LaneWait';
  }
}

/**
 * Thrown when a POST's lane refused the grant because another rollout's POST of the same triple
 * went first (its marker): the row is run again at once and finds that marker.
 */
export class MarkerTaken extends LaneWait {
  constructor() {
    super(Date.now());
    this.name = 'MarkerTaken';
  }
}

/** Every Graph request passes here first. Short waits are slept in place; long ones park the job. */
export class LaneGate {
  constructor(
    private readonly lanes: TenantLanes,
    private readonly maxInlineWaitMs = 250,
    /** Aborted at shutdown: rows waiting in place are handed back to the queue at once. */
    private readonly shutdown?: AbortSignal,
  ) {}

  /** Resolves with the send time once the lane grants a slot. */
  async pass(
    tenantId: string,
    options: AdmitOptions,
    maxInlineWaitMs = this.maxInlineWaitMs,
  ): Promise<{ sentAt: number; count: number; logged: boolean }> {
    for (;;) {
      if (this.shutdown?.aborted) throw new LaneWait(Date.now());
      const admission = await this.lanes.admit(tenantId, options);
      if (admission.granted) return { sentAt: admission.at, count: admission.count, logged: admission.logged };
      if (admission.markerTaken) throw new MarkerTaken();
      const waitMs = admission.at - Date.now();
      if (waitMs > maxInlineWaitMs) throw new LaneWait(admission.at);
      if (waitMs > 0) {
        try {
          await sleep(waitMs, undefined, { signal: this.shutdown });
        } catch {
          // Shutting down: the row goes back to the queue, keeping its place in the lane.
          throw new LaneWait(admission.at);
        }
      }
    }
  }
}

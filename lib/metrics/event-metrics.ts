import { Counter, Registry } from 'prom-client';
import type { EventSource } from '../queues/event-queue.js';

/** Why the server turned an event or notification away. */
export type EventRejection =
  'bad-signature' | 'stale' | 'bad-payload' | 'too-large' | 'client-state' | 'not-configured';

/** Counters of the event intake, kept by the server (see lib/metrics). */
export interface EventMetrics {
  received(source: EventSource): void;
  accepted(source: EventSource): void;
  rejected(source: EventSource, reason: EventRejection): void;
  /** Accepted and ignored: an event id seen before, or folded into a pending job for the same group. */
  duplicate(source: EventSource, why: 'replayed' | 'debounced'): void;
}

/** The event intake's counters on a prom-client registry: the server's own part of `GET /metrics`. */
export class PromEventMetrics implements EventMetrics {
  private readonly receivedTotal: Counter<'source'>;
  private readonly acceptedTotal: Counter<'source'>;
  private readonly rejectedTotal: Counter<'source' | 'reason'>;
  private readonly duplicatesTotal: Counter<'source' | 'why'>;

  /** Never prom-client's global registry: the fleet scrape merges registries it owns. */
  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.receivedTotal = new Counter({
      name: 'assignments_events_received_total',
      help: 'Events and Graph change notifications received, by source.',
      labelNames: ['source'],
      registers,
    });
    this.acceptedTotal = new Counter({
      name: 'assignments_events_accepted_total',
      help: 'Events accepted for processing, by source.',
      labelNames: ['source'],
      registers,
    });
    this.rejectedTotal = new Counter({
      name: 'assignments_events_rejected_total',
      help: 'Events turned away, by source and reason.',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.duplicatesTotal = new Counter({
      name: 'assignments_events_duplicates_total',
      help: 'Accepted events ignored: an id seen before (replayed) or folded into a pending job for the same group (debounced), by source.',
      labelNames: ['source', 'why'],
      registers,
    });
  }

  received(source: EventSource): void {
    this.receivedTotal.inc({ source });
  }

  accepted(source: EventSource): void {
    this.acceptedTotal.inc({ source });
  }

  rejected(source: EventSource, reason: EventRejection): void {
    this.rejectedTotal.inc({ source, reason });
  }

  duplicate(source: EventSource, why: 'replayed' | 'debounced'): void {
    this.duplicatesTotal.inc({ source, why });
  }
}

import type { Redis } from 'ioredis';
import { ifValueUnchanged } from '../lib/redis/if-value-unchanged.js';

/**
 * What we know of a (tenant, configuration, group) assignment across rollouts and attempts:
 * - `sent|<rolloutId>|<ms>`: a POST left at <ms> and may still be on its way (or its worker died);
 * - `ended|<rolloutId>|<ms>`: that POST ended at <ms> without a clear answer (timeout, reset, 5xx,
 *   429): it may have been committed;
 * - `assigned|<assignmentId>`: it existed when we last looked.
 * Either of the first two means: look before posting again, once a slow commit would have landed.
 *
 * A delete row has a marker of its own (its row key names the assignment) that is only ever `sent`
 * or `ended` (of its DELETE): it tells a 404 that follows a DELETE of ours (`deleted`) from one that
 * does not (`already-deleted`), and it is dropped when the row ends (see worker/delete-row.ts).
 */
export type RowMarker =
  | { kind: 'sent' | 'ended'; rolloutId: string; at: number; raw: string }
  | { kind: 'assigned'; assignmentId: string; raw: string }
  | null;

export function parseRowMarker(value: string | null | undefined): RowMarker {
  if (!value) return null;
  const [kind, a, b] = value.split('|');
  if ((kind === 'sent' || kind === 'ended') && a && b) return { kind, rolloutId: a, at: Number(b), raw: value };
  if (kind === 'assigned' && a) return { kind: 'assigned', assignmentId: a, raw: value };
  return null;
}

/**
 * When to trust a read of the configuration: a POST still on its way could commit until our own
 * timeout gives up on it, and a slow commit lands up to `settleMs` after that.
 */
export function lookNotBefore(
  marker: { kind: 'sent' | 'ended'; at: number },
  timeoutMs: number,
  settleMs: number,
): number {
  return marker.at + settleMs + (marker.kind === 'sent' ? timeoutMs : 0);
}

/** The POST behind a `sent` marker ended without a clear answer: say when. */
export async function markRowPostEnded(
  redis: Redis,
  key: string,
  sent: string,
  rolloutId: string,
  endedAt: number,
): Promise<void> {
  await ifValueUnchanged(redis, key, sent, { action: 'set', value: `ended|${rolloutId}|${endedAt}` });
}

/**
 * A look at Graph showed the marker's assignment is not there: forget the marker, unless someone
 * wrote a newer one meanwhile (another rollout's POST of the same triple). Without this, a row that
 * looked and then had to wait for a POST slot would look again on every wake-up, spending its slot
 * on the read each time.
 */
export async function clearRowMarkerIfUnchanged(redis: Redis, key: string, seen: string): Promise<void> {
  await ifValueUnchanged(redis, key, seen, { action: 'del' });
}

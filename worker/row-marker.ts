import type { Redis } from 'ioredis';

/**
 * What we know of a (tenant, configuration, group) assignment across rollouts and attempts:
 * `sent|<rolloutId>|<ms>` — a POST may have reached Graph, look before posting again;
 * `assigned|<assignmentId>` — it existed when we last looked.
 */
export type RowMarker = { kind: 'sent'; rolloutId: string; at: number; raw: string } | { kind: 'assigned'; assignmentId: string; raw: string } | null;

export function parseRowMarker(value: string | null | undefined): RowMarker {
  if (!value) return null;
  const [kind, a, b] = value.split('|');
  if (kind === 'sent' && a && b) return { kind: 'sent', rolloutId: a, at: Number(b), raw: value };
  if (kind === 'assigned' && a) return { kind: 'assigned', assignmentId: a, raw: value };
  return null;
}

const CLEAR_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * A look at Graph showed the marker's assignment is not there: forget the marker, unless someone
 * wrote a newer one meanwhile (another rollout's POST of the same triple). Without this, a row that
 * looked and then had to wait for a POST slot would look again on every wake-up, spending its slot
 * on the read each time.
 */
export async function clearRowMarkerIfUnchanged(redis: Redis, key: string, seen: string): Promise<void> {
  await redis.eval(CLEAR_IF_UNCHANGED, 1, key, seen);
}

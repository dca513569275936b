import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Request signing for `POST /events`, so only a sender holding EVENTS_HMAC_SECRET can start
 * assignments, and a captured request cannot be replayed later.
 *
 * The sender adds two headers:
 *
 *     X-Signature-Timestamp: <unix time in whole seconds>
 *     X-Signature: sha256=<lowercase hex of HMAC-SHA256(secret, `${timestamp}.${rawBody}`)>
 *
 * `rawBody` is the body exactly as sent (bytes, before any JSON parsing), so the receiver must verify
 * the bytes it received, not a re-serialization. The timestamp is inside the signed text, so moving
 * it forward breaks the signature; the receiver refuses timestamps more than five minutes from its
 * own clock, either way. Example, with `curl`:
 *
 *     ts=$(date +%s)
 *     sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -hex | sed 's/.*= //')
 *     curl -H "X-Signature-Timestamp: $ts" -H "X-Signature: sha256=$sig" --data-binary "$body" …
 */

export const SIGNATURE_TIMESTAMP_HEADER = 'x-signature-timestamp';
export const SIGNATURE_HEADER = 'x-signature';

/** How far a timestamp may be from the receiver's clock: clock skew plus time in transit. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 300_000;

const SIGNATURE_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;
/** Whole seconds; twelve digits reach well past the year 30000, and bound what gets parsed. */
const TIMESTAMP_FORMAT = /^\d{1,12}$/;

export type SignatureRefusal = 'missing' | 'stale' | 'bad-signature';

export interface SignatureCheck {
  secret: string;
  /** The X-Signature-Timestamp header as received. */
  timestamp: string | undefined;
  /** The X-Signature header as received. */
  signature: string | undefined;
  rawBody: Buffer;
  nowMs: number;
  toleranceMs?: number;
}

/** The headers that sign `rawBody` at `timestampSeconds`, for senders and tests. */
export function signEvent(
  secret: string,
  rawBody: string | Buffer,
  timestampSeconds: number,
): { 'x-signature-timestamp': string; 'x-signature': string } {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`timestampSeconds must be a whole number of seconds, got ${timestampSeconds}`);
  }
  const timestamp = String(timestampSeconds);
  return {
    [SIGNATURE_TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: `sha256=${mac(secret, timestamp, rawBody).toString('hex')}`,
  };
}

/**
 * Whether the request carries a valid, fresh signature. An absent or empty header is `missing`; a
 * header that is not in the scheme's format is `bad-signature`, like a wrong one. The signature is
 * checked before the time, so `stale` is only ever said of a request the secret's holder did sign:
 * a replay, or a sender whose clock is off.
 */
export function verifyEventSignature(input: SignatureCheck): { ok: true } | { ok: false; reason: SignatureRefusal } {
  const timestamp = input.timestamp?.trim();
  const signature = input.signature?.trim();
  if (!timestamp || !signature) return { ok: false, reason: 'missing' };

  const hex = SIGNATURE_FORMAT.exec(signature)?.[1];
  if (hex === undefined || !TIMESTAMP_FORMAT.test(timestamp)) return { ok: false, reason: 'bad-signature' };
  const given = Buffer.from(hex, 'hex');
  const expected = mac(input.secret, timestamp, input.rawBody);
  // timingSafeEqual throws on a length mismatch; the format check makes both 32 bytes, this keeps it so.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad-signature' };

  const toleranceMs = input.toleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  if (Math.abs(input.nowMs - Number(timestamp) * 1000) > toleranceMs) return { ok: false, reason: 'stale' };
  return { ok: true };
}

function mac(secret: string, timestamp: string, rawBody: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

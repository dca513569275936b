import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signEvent, verifyEventSignature } from '../../producer/event-signature.js';

const SECRET = 'a-shared-secret-of-some-length';
const BODY = Buffer.from('{"id":"e-1","type":"group.created","tenantId":"11111111-1111-1111-1111-111111111111"}');
const NOW_S = 1_760_000_000;
const NOW_MS = NOW_S * 1000;

/** Verifies `body` with the headers signEvent made at `signedAt`, at NOW. */
function verifySigned(signedAt: number, body: Buffer = BODY, toleranceMs?: number) {
  const headers = signEvent(SECRET, BODY, signedAt);
  return verifyEventSignature({
    secret: SECRET,
    timestamp: headers['x-signature-timestamp'],
    signature: headers['x-signature'],
    rawBody: body,
    nowMs: NOW_MS,
    toleranceMs,
  });
}

function verifyWith(timestamp: string | undefined, signature: string | undefined, rawBody = BODY) {
  return verifyEventSignature({ secret: SECRET, timestamp, signature, rawBody, nowMs: NOW_MS });
}

describe('signEvent', () => {
  it('signs `${timestamp}.${rawBody}` with HMAC-SHA256 as sha256=<lowercase hex>, as any HMAC tool computes it', () => {
    const headers = signEvent(SECRET, BODY, NOW_S);
    const hex = createHmac('sha256', SECRET)
      .update(`${NOW_S}.${BODY.toString('utf8')}`)
      .digest('hex');
    expect(headers).toEqual({ 'x-signature-timestamp': String(NOW_S), 'x-signature': `sha256=${hex}` });
  });

  it('signs a string body as its UTF-8 bytes, so either form of the same body gives one signature', () => {
    const text = '{"displayName":"Vertrieb – Köln"}';
    expect(signEvent(SECRET, text, NOW_S)).toEqual(signEvent(SECRET, Buffer.from(text, 'utf8'), NOW_S));
  });

  it('refuses a timestamp that is not a whole number of seconds', () => {
    expect(() => signEvent(SECRET, BODY, NOW_MS + 0.5)).toThrow(RangeError);
    expect(() => signEvent(SECRET, BODY, -1)).toThrow(RangeError);
  });
});

describe('verifyEventSignature', () => {
  it('accepts a body signed now with the shared secret', () => {
    expect(verifySigned(NOW_S)).toEqual({ ok: true });
  });

  it('accepts hex digits in upper case: the bytes are compared, not the text', () => {
    const headers = signEvent(SECRET, BODY, NOW_S);
    expect(
      verifyWith(headers['x-signature-timestamp'], `sha256=${headers['x-signature'].slice(7).toUpperCase()}`),
    ).toEqual({ ok: true });
  });

  it('refuses a signature made with another secret', () => {
    const headers = signEvent('another-secret-entirely', BODY, NOW_S);
    expect(verifyWith(headers['x-signature-timestamp'], headers['x-signature'])).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses a body changed by one byte', () => {
    const changed = Buffer.from(BODY);
    changed[changed.length - 2] = (changed[changed.length - 2] ?? 0) ^ 0x01;
    expect(verifySigned(NOW_S, changed)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature whose timestamp was moved: the timestamp is part of what is signed', () => {
    const headers = signEvent(SECRET, BODY, NOW_S - 600);
    expect(verifyWith(String(NOW_S), headers['x-signature'])).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('accepts a timestamp up to the tolerance away, in the past or the future', () => {
    expect(verifySigned(NOW_S - 300)).toEqual({ ok: true });
    expect(verifySigned(NOW_S + 300)).toEqual({ ok: true });
  });

  it('calls a correctly signed request from more than five minutes ago stale', () => {
    expect(verifySigned(NOW_S - 301)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySigned(NOW_S - 86_400)).toEqual({ ok: false, reason: 'stale' });
  });

  it('calls a timestamp more than five minutes in the future stale too', () => {
    expect(verifySigned(NOW_S + 301)).toEqual({ ok: false, reason: 'stale' });
  });

  it('uses the tolerance it is given', () => {
    expect(verifySigned(NOW_S - 10, BODY, 5_000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySigned(NOW_S - 4, BODY, 5_000)).toEqual({ ok: true });
  });

  it('calls a request without either header, or with an empty one, missing', () => {
    const headers = signEvent(SECRET, BODY, NOW_S);
    expect(verifyWith(undefined, headers['x-signature'])).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWith(headers['x-signature-timestamp'], undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWith(undefined, undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWith('', headers['x-signature'])).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWith(headers['x-signature-timestamp'], '  ')).toEqual({ ok: false, reason: 'missing' });
  });

  it('refuses malformed signature headers as bad signatures, without throwing', () => {
    const { 'x-signature-timestamp': timestamp, 'x-signature': signature } = signEvent(SECRET, BODY, NOW_S);
    const hex = signature.slice('sha256='.length);
    for (const malformed of [
      hex,
      `sha1=${hex}`,
      `sha256=${hex.slice(2)}`,
      `sha256=${hex}00`,
      `sha256=${hex.slice(1)}z`,
      'sha256=',
      `sha256=${hex},sha256=${hex}`,
    ]) {
      expect(verifyWith(timestamp, malformed), malformed).toEqual({ ok: false, reason: 'bad-signature' });
    }
  });

  it('refuses malformed timestamps as bad signatures, even with a signature over that text', () => {
    for (const timestamp of [`${NOW_S}.5`, '-1', '1e9', 'yesterday', `${NOW_MS}0`, '0x10']) {
      const signature = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.`).update(BODY).digest('hex')}`;
      expect(verifyWith(timestamp, signature), timestamp).toEqual({ ok: false, reason: 'bad-signature' });
    }
  });
});

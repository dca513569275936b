import { describe, expect, it } from 'vitest';
import {
  classifyResponse,
  classifyTokenError,
  classifyTransportError,
} from '../../lib/graph/failure-classification.js';

const graphError = (code: string, message = 'msg') => ({ error: { code, message, innerError: { 'request-id': 'r' } } });

describe('classifying Graph answers', () => {
  const now = 0;
  it('429 is throttling, keeps Retry-After, and a throttled write is ambiguous', () => {
    const f = classifyResponse(
      429,
      graphError('TooManyRequests'),
      { 'retry-after': '2.5', 'request-id': 'abc' },
      true,
      now,
    );
    expect(f).toMatchObject({
      kind: 'throttled',
      code: 'E_GRAPH_THROTTLED',
      ambiguous: true,
      retryAfterMs: 2500,
      requestId: 'abc',
      graphCode: 'TooManyRequests',
      httpStatus: 429,
    });
    expect(classifyResponse(429, undefined, {}, false, now).ambiguous).toBe(false);
  });
  it.each([500, 502, 503, 504])('%i is transient and ambiguous for a write (it may have committed)', (status) => {
    const f = classifyResponse(status, graphError('X'), {}, true, now);
    expect(f.kind).toBe('transient');
    expect(f.ambiguous).toBe(true);
  });
  it.each([
    [400, 'E_GRAPH_BAD_REQUEST'],
    [403, 'E_GRAPH_FORBIDDEN'],
    [404, 'E_GRAPH_NOT_FOUND'],
  ])('%i is permanent and not ambiguous (%s)', (status, code) => {
    const f = classifyResponse(status, graphError('ResourceNotFound', 'gone'), {}, true, now);
    expect(f).toMatchObject({
      kind: 'permanent',
      code,
      ambiguous: false,
      message: 'gone',
      graphCode: 'ResourceNotFound',
    });
  });
  it('401 asks for one token refresh', () =>
    expect(classifyResponse(401, graphError('InvalidAuthenticationToken'), {}, true, now).kind).toBe('unauthorized'));
  it('keeps Graph messages short', () =>
    expect(
      classifyResponse(400, graphError('BadRequest', 'x'.repeat(5000)), {}, true, now).message.length,
    ).toBeLessThanOrEqual(500));
});

describe('classifying transport errors', () => {
  it('a timeout is transient and ambiguous for a write', () => {
    expect(classifyTransportError({ code: 'ETIMEDOUT', name: 'TimeoutError' }, true)).toMatchObject({
      kind: 'transient',
      code: 'E_GRAPH_TIMEOUT',
      ambiguous: true,
    });
  });
  it('a reset after sending is ambiguous; a refused connection is not (nothing was sent)', () => {
    expect(classifyTransportError({ code: 'ECONNRESET' }, true).ambiguous).toBe(true);
    expect(classifyTransportError({ code: 'ECONNREFUSED' }, true).ambiguous).toBe(false);
  });
  it('a reset or a timeout before the request finished uploading is not ambiguous; after, it is', () => {
    const connected = { start: 1, socket: 2, connect: 3 };
    expect(classifyTransportError({ code: 'ECONNRESET', timings: connected }, true).ambiguous).toBe(false);
    expect(classifyTransportError({ code: 'EPIPE', timings: connected }, true).ambiguous).toBe(false);
    const timedOut = { code: 'ETIMEDOUT', name: 'TimeoutError', timings: connected };
    expect(classifyTransportError(timedOut, true).ambiguous).toBe(false);
    const uploaded = { ...connected, upload: 4 };
    expect(classifyTransportError({ code: 'ECONNRESET', timings: uploaded }, true).ambiguous).toBe(true);
    expect(classifyTransportError({ ...timedOut, timings: uploaded }, true).ambiguous).toBe(true);
  });
  it('an untrusted certificate is permanent and says how to fix it', () => {
    const f = classifyTransportError({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, true);
    expect(f.kind).toBe('permanent');
    expect(f.message).toContain('NODE_EXTRA_CA_CERTS');
  });
});

describe('classifying token errors', () => {
  it('a rejected secret is permanent', () => {
    expect(
      classifyTokenError({
        errorCode: 'invalid_client',
        errorMessage: 'AADSTS7000215: Invalid client secret provided.',
      }),
    ).toMatchObject({ kind: 'permanent', code: 'E_AUTH_REJECTED' });
  });
  it('an unknown tenant is permanent', () => {
    expect(
      classifyTokenError({ errorCode: 'endpoints_resolution_error', errorMessage: 'AADSTS90002: Tenant not found' })
        .kind,
    ).toBe('permanent');
  });
  it('an outage of the token endpoint is transient', () => {
    expect(classifyTokenError({ errorCode: 'temporarily_unavailable' })).toMatchObject({
      kind: 'transient',
      code: 'E_AUTH_TOKEN_UNAVAILABLE',
      ambiguous: false,
    });
    expect(classifyTokenError({ errorCode: '90033' }).kind).toBe('transient');
  });
  it('never carries the secret or the description into the message', () => {
    const f = classifyTokenError({ errorCode: 'invalid_client', errorMessage: 'client_secret=hunter2 AADSTS7000215' });
    expect(f.message).not.toContain('hunter2');
  });
});

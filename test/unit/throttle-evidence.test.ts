import { describe, expect, it } from 'vitest';
import { GraphFailure, GraphFailureCodes } from '../../lib/graph/graph-failure.js';
import { ThrottleEvidence } from '../../lib/lanes/throttle-evidence.js';

const answer = (httpStatus: number, retryAfterMs?: number): GraphFailure =>
  new GraphFailure({
    kind: httpStatus === 429 ? 'throttled' : 'transient',
    code: httpStatus === 429 ? GraphFailureCodes.THROTTLED : GraphFailureCodes.UNAVAILABLE,
    ambiguous: false,
    message: `HTTP ${httpStatus}`,
    httpStatus,
    retryAfterMs,
  });

describe('which answers teach a lane its pace', () => {
  it('a 429 always does, with or without Retry-After', () => {
    const evidence = new ThrottleEvidence();
    expect(evidence.answer('t', answer(429, 1000))).toBe(true);
    expect(evidence.answer('u', answer(429))).toBe(true);
  });

  it('5xx without Retry-After never does, however many come in a row', () => {
    const evidence = new ThrottleEvidence();
    for (let i = 0; i < 50; i++) {
      expect(evidence.answer('t', answer(503))).toBe(false);
      expect(evidence.answer('t', answer(500))).toBe(false);
      expect(evidence.answer('t', answer(502))).toBe(false);
      expect(evidence.answer('t', answer(504))).toBe(false);
    }
  });

  it('a lone 503 with Retry-After among good answers is a fault of its request', () => {
    const evidence = new ThrottleEvidence();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 9; i++) evidence.answer('t', undefined);
      expect(evidence.answer('t', answer(503, 2000))).toBe(false);
    }
  });

  it('503s with Retry-After in a run are throttling from the fourth of the last ten answers', () => {
    const evidence = new ThrottleEvidence();
    for (let i = 0; i < 7; i++) evidence.answer('t', undefined);
    for (let i = 0; i < 3; i++) expect(evidence.answer('t', answer(503, 1000))).toBe(false);
    expect(evidence.answer('t', answer(503, 1000))).toBe(true);
    expect(evidence.answer('t', answer(503, 1000))).toBe(true);
  });

  it('each tenant’s answers count for that tenant only', () => {
    const evidence = new ThrottleEvidence();
    for (let i = 0; i < 3; i++) evidence.answer('a', answer(503, 1000));
    expect(evidence.answer('b', answer(503, 1000))).toBe(false);
    expect(evidence.answer('a', answer(503, 1000))).toBe(true);
  });

  it('at 3 % of answers, random 503s with Retry-After almost never read as throttling', () => {
    // A fixed pseudo-random sequence, so the figure is the same every run.
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const evidence = new ThrottleEvidence();
    let misread = 0;
    for (let i = 0; i < 100_000; i++)
      if (evidence.answer('t', random() < 0.03 ? answer(503, 2000) : undefined)) misread++;
    expect(misread).toBeLessThanOrEqual(20);
  });
});

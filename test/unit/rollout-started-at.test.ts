import { describe, expect, it } from 'vitest';
import { rolloutStartedAt } from '../../worker/assignment-processor.js';

describe('the moment a configuration listing must be newer than', () => {
  const created = '2026-12-04T10:00:00.000Z';
  const createdMs = Date.parse(created);

  it('is the rollout’s start, not the job’s own enqueue time', () => {
    expect(rolloutStartedAt(created, null, createdMs + 5_000)).toBe(createdMs);
  });

  it('is the last retry when there was one, so a retry looks again', () => {
    expect(rolloutStartedAt(created, String(createdMs + 60_000), createdMs + 61_000)).toBe(createdMs + 60_000);
  });

  it('falls back to the job’s enqueue time when the rollout record has no readable start', () => {
    expect(rolloutStartedAt(null, null, 1234)).toBe(1234);
    expect(rolloutStartedAt('garbage', null, 1234)).toBe(1234);
  });
});

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import { enqueueRows, expectTruthMatchesReport, progressOf, reportOf, statusOf } from '../support/rollout-checks.js';
import { chaosDice, chaosLog, expectRolloutWhole, waitForFraction } from './support/chaos-run.js';

/**
 * Entra ID's token endpoint fails in the middle of a rollout. Workers hold tokens, so a failure
 * there only bites when a token has to be renewed: the emulator issues tokens that MSAL stops using
 * after a few seconds (lifetime 303 s, MSAL renews 300 s before expiry), so every tenant goes back
 * to the endpoint several times during the rollout, as a long rollout does against real tokens.
 *
 * - 500 and 503 for a while: transient. Rows wait, retry, and end created exactly once.
 * - invalid_client (a secret revoked or expired mid-rollout): permanent. The remaining rows fail at
 *   once with E_AUTH_REJECTED and Entra's reason, the rollout finishes instead of retrying forever,
 *   rows already created stay created, and Graph holds nothing the report does not.
 */

const SCENARIO = 'token-endpoint';
const dice = chaosDice(SCENARIO);
const log = chaosLog(SCENARIO);

const TOKEN_LIFETIME_SECONDS = 303;
// 6 tenants x 2 configurations x 150 groups = 1,800 rows; at 15 writes/s per tenant about 20 s of
// Graph time, so a failure window lands in the middle of real traffic and token renewals.
const TENANTS = 6;
const CONFIGURATIONS = 2;
const GROUPS = 150;
const RATE = { max: 15, windowMs: 1000 };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function start(): Promise<Stack> {
  stack = await startStack({
    emulator: { rateLimit: RATE, tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS, seed: dice.seed },
    env: {
      GRAPH_RATE_LIMIT: `${RATE.max}/${RATE.windowMs}ms`,
      GRAPH_SETTLE_MS: '800',
      // The production retry budget: 8 attempts from 1 s, about one to two minutes in all.
      RETRY_BASE_DELAY_MS: '1000',
      RETRY_MAX_ATTEMPTS: '8',
      WORKER_CONCURRENCY: '16',
    },
  });
  await stack.worker();
  await stack.worker();
  return stack;
}

describe(`the token endpoint failing mid-rollout (seed ${dice.seed})`, () => {
  it.each([
    { mode: '503', forMs: 6000 },
    { mode: '500', forMs: 6000 },
  ] as const)(
    'answers $mode for $forMs ms: rows wait, then every row is created exactly once and none fails',
    async ({ mode, forMs }) => {
      const s = await start();
      const rows = makeRows(
        Array.from({ length: TENANTS }, () => randomUUID()),
        CONFIGURATIONS,
        GROUPS,
      );
      await s.control.createConfigurations(rows);
      const started = Date.now();
      const rolloutId = await enqueueRows(s, rows);
      const at = await waitForFraction(s, rolloutId, dice.between(0.15, 0.35));
      const before = await s.control.stats();
      await s.control.setTokenFailure(mode);
      log(`token endpoint answers ${mode} at ${at.done}/${at.total} done`);
      await sleep(forMs);
      const during = await s.control.stats();
      const progressDuring = await progressOf(s, rolloutId);
      await s.control.setTokenFailure(null);
      log(`token endpoint back after ${forMs} ms at ${progressDuring.done}/${progressDuring.total} done`);

      await s.waitFinished(rolloutId, 240_000);
      const status = await statusOf(s, rolloutId);
      log(
        `${mode}: finished in ${((Date.now() - started) / 1000).toFixed(1)} s, created ${status.created}, failed ${status.failed}`,
      );
      // The failure was really met: token requests were refused while it lasted.
      const requests = (snap: typeof during) =>
        Object.values(snap.tenants).reduce((n, t) => n + t.tokenRequests - t.tokensIssued, 0);
      expect(requests(during) - requests(before)).toBeGreaterThan(0);
      await expectRolloutWhole(s, rolloutId, rows);
    },
  );

  it('answers invalid_client from mid-rollout on: the remaining rows fail with E_AUTH_REJECTED and the reason, the rollout finishes, created rows stay created', async () => {
    const s = await start();
    const rows = makeRows(
      Array.from({ length: TENANTS }, () => randomUUID()),
      CONFIGURATIONS,
      GROUPS,
    );
    await s.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(s, rows);
    const at = await waitForFraction(s, rolloutId, dice.between(0.2, 0.4));
    await s.control.setTokenFailure('invalid_client');
    const revokedAt = Date.now();
    log(`token endpoint answers invalid_client at ${at.done}/${at.total} done`);

    // No forever-retry: once every held token is due for renewal (a few seconds), rows end at once.
    await s.waitFinished(rolloutId, 60_000);
    const finishedAfterMs = Date.now() - revokedAt;
    const status = await statusOf(s, rolloutId);
    log(`finished ${finishedAfterMs} ms after the revocation: created ${status.created}, failed ${status.failed}`);
    expect(status).toMatchObject({ state: 'finished', total: rows.length, pending: 0 });
    expect(status.created).toBeGreaterThanOrEqual(at.done);
    expect(status.failed).toBeGreaterThan(0);
    expect(status.created + status.failed).toBe(rows.length);

    const report = await reportOf(s, rolloutId);
    const failed = report.filter((r) => r.outcome === 'failed');
    expect(failed).toHaveLength(status.failed);
    for (const r of failed) {
      expect(r).toMatchObject({ code: 'E_AUTH_REJECTED', errorCode: 'invalid_client', assignmentId: null });
      // The reason a person can act on: Entra's own code for an expired or revoked secret.
      expect(r.errorMessage).toMatch(/invalid_client.*AADSTS7000222/);
    }
    // Permanent: no row spent a retry on it.
    expect(Math.max(...failed.map((r) => r.attempts))).toBeLessThanOrEqual(1);
    // Every created row is in Graph once, every failed row not at all, no duplicates.
    await expectTruthMatchesReport(s, report);
    const truth = await s.control.truth();
    expect(truth.assignments).toBe(status.created);
  });
});

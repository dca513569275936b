import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultKind, FaultRates } from '../../emulator/emulator-options.js';
import { makeRows, startStack, type Stack } from '../support/stack.js';
import {
  enqueueRows,
  expectAllSucceeded,
  expectEachAssignedOnce,
  expectFinished,
  expectNoneAssigned,
  expectTruthMatchesReport,
  reportOf,
} from '../support/rollout-checks.js';

/**
 * Every fault the emulator can inject on an assignment POST, alone at a high rate and all mixed:
 * whatever Graph does to a request (refuses it, drops the connection before or after committing,
 * commits it late behind a 504), each row ends succeeded and Graph holds its assignment exactly once.
 * GRAPH_SETTLE_MS is above the emulator's slowCommitMs, the promise a late commit keeps.
 */
const SLOW_COMMIT_MS = 400;

describe('a rollout through injected Graph faults', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { slowCommitMs: SLOW_COMMIT_MS, seed: 7 },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_ATTEMPTS: '20' },
    });
    await stack.worker();
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const alone: { kind: FaultKind; what: string }[] = [
    { kind: 'serviceUnavailable', what: '503 ServiceUnavailable' },
    { kind: 'serviceUnavailableNoRetryAfter', what: '503 ServiceUnavailable without Retry-After' },
    { kind: 'internalError', what: '500 InternalServerError' },
    { kind: 'badGateway', what: '502 BadGateway' },
    { kind: 'gatewayTimeout', what: 'a 504 that commits nothing' },
    { kind: 'reset', what: 'a reset before the commit' },
    { kind: 'commitThenReset', what: 'a reset after the commit' },
    { kind: 'slowCommit', what: 'a 504 and a late commit' },
  ];

  it.each(alone)(
    'ends every row succeeded, each assigned exactly once, when 30 percent of POSTs get $what',
    async ({ kind }) => {
      const rates: FaultRates = { [kind]: 0.3 };
      await stack.control.setFaults(rates);
      // 30 rows over five tenants: a 503 pauses its tenant's lane, the others carry on.
      const rows = makeRows(
        Array.from({ length: 5 }, () => randomUUID()),
        2,
        3,
      );
      await stack.control.createConfigurations(rows);
      const before = await stack.control.stats();
      const rolloutId = await enqueueRows(stack, rows);
      await stack.waitFinished(rolloutId, 40_000);
      await stack.control.setFaults({});

      expectAllSucceeded(await reportOf(stack, rolloutId), rows);
      await expectFinished(stack, rolloutId, rows.length, 0);
      await expectEachAssignedOnce(stack, rows);
      // The fault really happened, so this test proves something about it.
      const after = await stack.control.stats();
      const drawn = (s: typeof after) => Object.values(s.tenants).reduce((n, t) => n + t.faults[kind], 0);
      expect(drawn(after) - drawn(before)).toBeGreaterThan(0);
    },
  );

  it('ends every row succeeded, each assigned exactly once, when every fault kind is mixed in', async () => {
    await stack.control.setFaults({
      serviceUnavailable: 0.05,
      serviceUnavailableNoRetryAfter: 0.05,
      internalError: 0.05,
      badGateway: 0.05,
      gatewayTimeout: 0.05,
      reset: 0.05,
      commitThenReset: 0.05,
      slowCommit: 0.05,
    });
    const rows = makeRows([randomUUID(), randomUUID(), randomUUID()], 2, 8);
    await stack.control.createConfigurations(rows);
    // A few groups were assigned by hand before the rollout.
    for (const r of [rows[0]!, rows[20]!, rows[40]!])
      await stack.control.createAssignment(r.tenantId, r.configurationId, r.groupId);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 40_000);
    await stack.control.setFaults({});

    const status = await expectFinished(stack, rolloutId, rows.length, 0);
    expect(status.alreadyAssigned).toBe(3);
    const report = await reportOf(stack, rolloutId);
    expectAllSucceeded(report, rows);
    expect([report[0]!.outcome, report[20]!.outcome, report[40]!.outcome]).toEqual([
      'already-assigned',
      'already-assigned',
      'already-assigned',
    ]);
    await expectEachAssignedOnce(stack, rows);
  });
});

describe('a rollout whose retries run out', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { faults: { internalError: 1 }, seed: 11 },
      env: { GRAPH_SETTLE_MS: '300', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_ATTEMPTS: '2' },
    });
    await stack.worker();
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('fails every row with E_GRAPH_SERVER_ERROR and Graph’s own error after RETRY_MAX_ATTEMPTS POSTs, and finishes the rollout', async () => {
    const tenant = randomUUID();
    const rows = makeRows([tenant], 2, 15);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 45_000);

    await expectFinished(stack, rolloutId, rows.length, rows.length);
    const report = await reportOf(stack, rolloutId);
    expect(report).toHaveLength(rows.length);
    for (const r of report) {
      expect(r).toMatchObject({
        outcome: 'failed',
        code: 'E_GRAPH_SERVER_ERROR',
        httpStatus: 500,
        errorCode: 'InternalServerError',
        attempts: 2,
        assignmentId: null,
      });
      expect(r.errorMessage).toBeTruthy();
      expect(r.finishedAt).toBeTruthy();
    }
    await expectNoneAssigned(stack, rows);
    // Exactly RETRY_MAX_ATTEMPTS POSTs per row reached Graph: not one more.
    const stats = await stack.control.stats();
    expect(stats.tenants[tenant]?.faults.internalError).toBe(rows.length * 2);
  });
});

describe('a rollout whose only attempt ends in doubt', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      // Every POST is committed, but none is answered with a success: a reset after the commit, or a
      // 504 and the commit a little later.
      emulator: { faults: { commitThenReset: 0.5, slowCommit: 0.5 }, slowCommitMs: SLOW_COMMIT_MS, seed: 5 },
      env: { GRAPH_SETTLE_MS: '800', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_ATTEMPTS: '1' },
    });
    await stack.worker();
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('reports what Graph holds: a row whose POST was committed is not reported failed', async () => {
    const rows = makeRows([randomUUID(), randomUUID()], 2, 8);
    await stack.control.createConfigurations(rows);
    const rolloutId = await enqueueRows(stack, rows);
    await stack.waitFinished(rolloutId, 30_000);

    const report = await reportOf(stack, rolloutId);
    expect(report).toHaveLength(rows.length);
    await expectTruthMatchesReport(stack, report);
    await expectEachAssignedOnce(stack, rows);
    await expectFinished(stack, rolloutId, rows.length, 0);
  });
});

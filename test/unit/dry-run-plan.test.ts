import { describe, expect, it } from 'vitest';
import type { Assignment } from '../../lib/graph/assignment.js';
import { officeClientConfigurationKind } from '../../lib/graph/kinds/office-client-configuration.js';
import { GraphFailure, GraphFailureCodes as C, type GraphFailureDetails } from '../../lib/graph/graph-failure.js';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { planRollout, type AssignmentLister } from '../../producer/dry-run-plan.js';
import { AssignmentReader, readsPerSecondFor, DEFAULT_READS_PER_SECOND } from '../../producer/assignment-reader.js';
import { ReadPace, type PaceClock } from '../../producer/read-pace.js';
import type { RolloutInput } from '../../producer/rollout-file.js';

const T1 = '11111111-1111-1111-1111-111111111111';
const T2 = '22222222-2222-2222-2222-222222222222';
const CA = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';
const CX = 'cccccccc-cccc-cccc-cccc-cccccccccccc';
const CU = 'dddddddd-dddd-dddd-dddd-dddddddddddd';
const group = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

function failure(details: Partial<GraphFailureDetails> & Pick<GraphFailureDetails, 'kind' | 'code'>): GraphFailure {
  return new GraphFailure({ ambiguous: false, message: details.code, ...details });
}
const notFound = () =>
  failure({
    kind: 'permanent',
    code: C.NOT_FOUND,
    httpStatus: 404,
    graphCode: 'ResourceNotFound',
    requestId: 'req-404',
    message: 'not there',
  });
const serverError = () =>
  failure({ kind: 'transient', code: C.SERVER_ERROR, httpStatus: 500, message: 'Server error (HTTP 500)' });

function input(rows: AssignmentRow[]): RolloutInput {
  return { rows, lines: rows.map((_, i) => i + 2), inputRows: rows.length, duplicateRows: 0, format: 'csv' };
}

/** A clock whose sleeps pass at once, recorded; for one reader at a time. */
function fakeClock(): PaceClock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

describe('planRollout', () => {
  it('reads each (tenant, configuration) once and classifies every row in input order', async () => {
    const listings: Record<string, Assignment[] | GraphFailure> = {
      [`${T1}/${CA}`]: [
        { id: 'as-1', groupId: group(1) },
        { id: 'as-all-devices' },
        { id: 'as-3', groupId: group(3) },
        { id: 'as-1-again', groupId: group(1) },
      ],
      [`${T2}/${CA}`]: [],
      [`${T1}/${CX}`]: notFound(),
      [`${T2}/${CU}`]: serverError(),
    };
    const calls: string[] = [];
    const graph: AssignmentLister = {
      async listAll(tenantId, configurationId) {
        calls.push(`${tenantId}/${configurationId}`);
        const listing = listings[`${tenantId}/${configurationId}`]!;
        if (listing instanceof GraphFailure) throw listing;
        return listing;
      },
    };
    const rows: AssignmentRow[] = [
      { tenantId: T1, configurationId: CA, groupId: group(1) },
      { tenantId: T1, configurationId: CX, groupId: group(1) },
      { tenantId: T2, configurationId: CA, groupId: group(1) },
      { tenantId: T1, configurationId: CA, groupId: group(2) },
      { tenantId: T2, configurationId: CU, groupId: group(4) },
      { tenantId: T1, configurationId: CA, groupId: group(3) },
    ];
    const plan = await planRollout(input(rows), graph, { kind: officeClientConfigurationKind });

    expect(calls.sort()).toEqual(Object.keys(listings).sort());
    expect(plan.rows.map((r) => [r.line, r.plan, r.assignmentId])).toEqual([
      [2, 'already-assigned', 'as-1'],
      [3, 'configuration-not-found', null],
      [4, 'would-create', null],
      [5, 'would-create', null],
      [6, 'unreadable', null],
      [7, 'already-assigned', 'as-3'],
    ]);
    expect(plan.rows[1]!.reason).toEqual({
      code: 'E_GRAPH_NOT_FOUND',
      errorCode: 'ResourceNotFound',
      message: 'not there',
      httpStatus: 404,
      requestId: 'req-404',
    });
    expect(plan.rows[4]!.reason).toEqual({
      code: 'E_GRAPH_SERVER_ERROR',
      errorCode: null,
      message: 'Server error (HTTP 500)',
      httpStatus: 500,
      requestId: null,
    });
    expect(plan.summary).toEqual({
      total: 6,
      wouldCreate: 2,
      alreadyAssigned: 2,
      configurationNotFound: 1,
      unreadable: 1,
      configurations: 4,
    });
    expect(plan.configurations).toEqual([
      {
        tenantId: T1,
        configurationId: CA,
        state: 'read',
        existingAssignments: 4,
        rows: 3,
        wouldCreate: 1,
        alreadyAssigned: 2,
        reason: null,
      },
      {
        tenantId: T1,
        configurationId: CX,
        state: 'not-found',
        existingAssignments: null,
        rows: 1,
        wouldCreate: 0,
        alreadyAssigned: 0,
        reason: plan.rows[1]!.reason,
      },
      {
        tenantId: T2,
        configurationId: CA,
        state: 'read',
        existingAssignments: 0,
        rows: 1,
        wouldCreate: 1,
        alreadyAssigned: 0,
        reason: null,
      },
      {
        tenantId: T2,
        configurationId: CU,
        state: 'unreadable',
        existingAssignments: null,
        rows: 1,
        wouldCreate: 0,
        alreadyAssigned: 0,
        reason: plan.rows[4]!.reason,
      },
    ]);
  });

  it('reads at most `concurrency` configurations at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const graph: AssignmentLister = {
      async listAll() {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return [];
      },
    };
    const rows = Array.from({ length: 9 }, (_, i) => ({
      tenantId: T1,
      configurationId: group(100 + i),
      groupId: group(i),
    }));
    const plan = await planRollout(input(rows), graph, { kind: officeClientConfigurationKind, concurrency: 2 });
    expect(most).toBe(2);
    expect(plan.summary.wouldCreate).toBe(9);
  });

  it('throws what is not a GraphFailure (a bug), instead of calling it unreadable', async () => {
    const graph: AssignmentLister = { listAll: () => Promise.reject(new TypeError('boom')) };
    await expect(
      planRollout(input([{ tenantId: T1, configurationId: CA, groupId: group(1) }]), graph, {
        kind: officeClientConfigurationKind,
      }),
    ).rejects.toThrow('boom');
  });

  it('plans an empty input as nothing to do', async () => {
    const plan = await planRollout(
      input([]),
      { listAll: () => Promise.reject(new Error('not called')) },
      { kind: officeClientConfigurationKind },
    );
    expect(plan).toEqual({
      rows: [],
      configurations: [],
      summary: {
        total: 0,
        wouldCreate: 0,
        alreadyAssigned: 0,
        configurationNotFound: 0,
        unreadable: 0,
        configurations: 0,
      },
    });
  });
});

describe('AssignmentReader', () => {
  type Page = { assignments: Assignment[]; nextLink?: string };
  /** A listPage that answers from a script (a page, or a failure to throw) and records when it was called. */
  function scriptedApi(clock: PaceClock, script: (Page | Error)[]) {
    const calls: { at: number; nextLink: string | undefined }[] = [];
    const prepared: [string, boolean][] = [];
    return {
      calls,
      prepared,
      api: {
        async prepare(tenantId: string, refresh = false) {
          prepared.push([tenantId, refresh]);
        },
        async listPage(_tenantId: string, _configurationId: string, nextLink: string | undefined) {
          calls.push({ at: clock.now(), nextLink });
          const next = script.shift();
          if (!next) throw new Error('script ran out');
          if (next instanceof Error) throw next;
          return { ...next, httpStatus: 200, clientRequestId: 'c' };
        },
      },
    };
  }

  it('follows every nextLink, one paced request per page', async () => {
    const clock = fakeClock();
    const { api, calls } = scriptedApi(clock, [
      { assignments: [{ id: '1', groupId: group(1) }], nextLink: 'https://graph/p2' },
      { assignments: [{ id: '2', groupId: group(2) }], nextLink: 'https://graph/p3' },
      { assignments: [{ id: '3', groupId: group(3) }] },
    ]);
    const reader = new AssignmentReader(api, { maxRequestsPerSecond: 2, clock });
    expect((await reader.listAll(T1, CA)).map((a) => a.id)).toEqual(['1', '2', '3']);
    expect(calls).toEqual([
      { at: 0, nextLink: undefined },
      { at: 500, nextLink: 'https://graph/p2' },
      { at: 1000, nextLink: 'https://graph/p3' },
    ]);
  });

  it('waits Retry-After after a 429 and retries the same page', async () => {
    const clock = fakeClock();
    const { api, calls } = scriptedApi(clock, [
      { assignments: [], nextLink: 'https://graph/p2' },
      failure({ kind: 'throttled', code: C.THROTTLED, httpStatus: 429, retryAfterMs: 3000 }),
      { assignments: [{ id: '2', groupId: group(2) }] },
    ]);
    const reader = new AssignmentReader(api, { maxRequestsPerSecond: 2, baseDelayMs: 100, random: () => 0, clock });
    expect((await reader.listAll(T1, CA)).map((a) => a.id)).toEqual(['2']);
    expect(calls).toEqual([
      { at: 0, nextLink: undefined },
      { at: 500, nextLink: 'https://graph/p2' },
      { at: 3500, nextLink: 'https://graph/p2' },
    ]);
  });

  it('backs off exponentially on 503 and 5xx without Retry-After', async () => {
    const clock = fakeClock();
    const { api, calls } = scriptedApi(clock, [
      failure({ kind: 'transient', code: C.UNAVAILABLE, httpStatus: 503 }),
      serverError(),
      failure({ kind: 'transient', code: C.TIMEOUT, graphCode: 'ETIMEDOUT' }),
      { assignments: [] },
    ]);
    // random 0: the backoff is half of base * 2^(attempt-1): 50, 100, 200 ms.
    const reader = new AssignmentReader(api, { maxRequestsPerSecond: 1000, baseDelayMs: 100, random: () => 0, clock });
    expect(await reader.listAll(T1, CA)).toEqual([]);
    expect(calls.map((c) => c.at)).toEqual([0, 50, 150, 350]);
  });

  it('gives up after maxAttempts with the last failure, saying so', async () => {
    const clock = fakeClock();
    const { api, calls } = scriptedApi(clock, [serverError(), serverError(), serverError(), serverError()]);
    const reader = new AssignmentReader(api, { maxAttempts: 3, baseDelayMs: 10, clock });
    const err = (await reader.listAll(T1, CA).catch((e: unknown) => e)) as GraphFailure;
    expect(err).toBeInstanceOf(GraphFailure);
    expect(err).toMatchObject({
      code: 'E_GRAPH_SERVER_ERROR',
      httpStatus: 500,
      message: 'Server error (HTTP 500) (gave up after 3 attempts)',
    });
    expect(calls).toHaveLength(3);
  });

  it('does not retry a permanent failure, nor what is not a GraphFailure', async () => {
    const clock = fakeClock();
    const missing = notFound();
    const first = scriptedApi(clock, [missing]);
    await expect(new AssignmentReader(first.api, { clock }).listAll(T1, CA)).rejects.toBe(missing);
    expect(first.calls).toHaveLength(1);
    const bug = new TypeError('bug');
    const second = scriptedApi(clock, [bug]);
    await expect(new AssignmentReader(second.api, { clock }).listAll(T1, CA)).rejects.toBe(bug);
    expect(second.calls).toHaveLength(1);
  });

  it('retries a 401 once with a fresh token; a second 401 is final', async () => {
    const unauthorized = () => failure({ kind: 'unauthorized', code: C.UNAUTHORIZED, httpStatus: 401 });
    const clock = fakeClock();
    const once = scriptedApi(clock, [unauthorized(), { assignments: [{ id: '1', groupId: group(1) }] }]);
    expect(await new AssignmentReader(once.api, { clock }).listAll(T1, CA)).toHaveLength(1);
    expect(once.prepared).toEqual([[T1, true]]);
    const twice = scriptedApi(clock, [unauthorized(), unauthorized(), { assignments: [] }]);
    await expect(new AssignmentReader(twice.api, { clock }).listAll(T1, CA)).rejects.toMatchObject({
      code: 'E_GRAPH_UNAUTHORIZED',
    });
    expect(twice.calls).toHaveLength(2);
  });

  it('takes its pace from GRAPH_RATE_LIMIT when set', () => {
    expect(readsPerSecondFor({ max: 100, windowMs: 20_000 })).toBe(5);
    expect(readsPerSecondFor({ max: 25, windowMs: 1000 })).toBe(25);
    expect(readsPerSecondFor(undefined)).toBe(DEFAULT_READS_PER_SECOND);
  });
});

describe('ReadPace', () => {
  it("spaces a tenant's requests, holds them during a pause, and leaves other tenants alone", async () => {
    const clock = fakeClock();
    const pace = new ReadPace(100, clock);
    const times: string[] = [];
    const take = async (tenantId: string) => {
      await pace.take(tenantId);
      times.push(`${tenantId === T1 ? 't1' : 't2'}@${clock.now()}`);
    };
    await take(T1);
    await take(T1);
    pace.pause(T1, 1000);
    await take(T2);
    await take(T1);
    await take(T1);
    expect(times).toEqual(['t1@0', 't1@100', 't2@100', 't1@1000', 't1@1100']);
  });
});

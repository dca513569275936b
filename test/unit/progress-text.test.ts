import { describe, expect, it } from 'vitest';
import type { RolloutStatus } from '../../lib/rollout/rollout-store.js';
import { RateMeter } from '../../cli/rate-meter.js';
import { formatDuration, progressLine, summaryLine } from '../../lib/rollout/progress-text.js';
import { exitCodeFor, hasEnded, watchExitCode } from '../../cli/rollout-watch.js';
import { FixedWidthTable, formatTable } from '../../cli/text-table.js';

function statusOf(fields: Partial<RolloutStatus>): RolloutStatus {
  return {
    rolloutId: 'r1',
    name: null,
    source: 'rollout.csv',
    createdAt: '2026-11-29T06:00:00.000Z',
    state: 'running',
    total: 5000,
    deleteRows: 0,
    pending: 5000,
    succeeded: 0,
    failed: 0,
    created: 0,
    alreadyAssigned: 0,
    deleted: 0,
    alreadyDeleted: 0,
    cancelled: 0,
    finishedAt: null,
    cancelledAt: null,
    retries: 0,
    tenants: [],
    ...fields,
  };
}

describe('progress words', () => {
  it('formats durations for an ETA and a summary', () => {
    expect(formatDuration(null)).toBe('--');
    expect(formatDuration(8_400)).toBe('8.4s');
    expect(formatDuration(41_000)).toBe('41s');
    expect(formatDuration(92_000)).toBe('1m32s');
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe('2h05m');
  });

  it('says done/total, rate, ETA and the counts per outcome in one line', () => {
    const s = statusOf({ pending: 3766, succeeded: 1230, created: 1200, alreadyAssigned: 30, failed: 4 });
    expect(progressLine(s, 41.24, 92_000)).toBe(
      'progress 1234/5000 rows | 41.2/s | ETA 1m32s | created 1200 already 30 failed 4 cancelled 0',
    );
    expect(progressLine(s, null, null)).toBe(
      'progress 1234/5000 rows | 0.0/s | ETA -- | created 1200 already 30 failed 4 cancelled 0',
    );
  });

  it('names the delete counts only for a rollout that has delete rows (or delete outcomes)', () => {
    const s = statusOf({
      deleteRows: 40,
      pending: 3766,
      succeeded: 1234,
      created: 1200,
      alreadyAssigned: 30,
      deleted: 3,
      alreadyDeleted: 1,
      failed: 0,
    });
    expect(progressLine(s, null, null)).toBe(
      'progress 1234/5000 rows | 0.0/s | ETA -- | created 1200 already 30 deleted 3 already-deleted 1 failed 0 cancelled 0',
    );
    const none = statusOf({ deleteRows: 40 });
    expect(summaryLine(none, 'interrupted')).toBe(
      'stopped watching at 0/5000 rows (rollout running, it goes on) | created 0 already 0 deleted 0 already-deleted 0 failed 0 cancelled 0',
    );
    expect(progressLine(statusOf({ pending: 4999, succeeded: 1, deleted: 1 }), null, null)).toMatch(
      / deleted 1 already-deleted 0 failed 0 /,
    );
  });

  it('mentions paused lanes only for tenants that still have rows to send', () => {
    const tenant = {
      total: 10,
      succeeded: 0,
      failed: 0,
      created: 0,
      alreadyAssigned: 0,
      deleted: 0,
      alreadyDeleted: 0,
      cancelled: 0,
    };
    const s = statusOf({
      total: 20,
      pending: 10,
      created: 10,
      succeeded: 10,
      tenants: [
        { ...tenant, tenantId: 'a', pending: 10, pausedUntil: '2026-11-29T06:01:00.000Z' },
        { ...tenant, tenantId: 'b', pending: 0, created: 10, succeeded: 10, pausedUntil: '2026-11-29T06:01:00.000Z' },
      ],
    });
    expect(progressLine(s, 1, 10_000)).toMatch(/ \| 1 tenant lane paused$/);
  });

  it('ends with how long the rollout took, or where it stands when the watch was stopped', () => {
    const finished = statusOf({
      state: 'finished',
      pending: 0,
      created: 4990,
      succeeded: 4990,
      failed: 10,
      finishedAt: '2026-11-29T06:02:01.000Z',
    });
    expect(summaryLine(finished, 'ended')).toBe(
      'finished 5000/5000 rows in 2m01s | created 4990 already 0 failed 10 cancelled 0',
    );
    const running = statusOf({ pending: 4000, created: 1000, succeeded: 1000 });
    expect(summaryLine(running, 'interrupted')).toBe(
      'stopped watching at 1000/5000 rows (rollout running, it goes on) | created 1000 already 0 failed 0 cancelled 0',
    );
    const cancelled = statusOf({
      state: 'cancelled',
      pending: 0,
      cancelled: 5000,
      cancelledAt: '2026-11-29T06:00:30.000Z',
    });
    expect(summaryLine(cancelled, 'ended')).toBe(
      'cancelled at 2026-11-29T06:00:30.000Z: 5000/5000 rows ended | created 0 already 0 failed 0 cancelled 5000',
    );
  });
});

describe('watch exit codes', () => {
  it('is 0 when no row failed, 1 when some did, 130 when interrupted; a cancelled rollout is judged by its failed rows', () => {
    expect(exitCodeFor(statusOf({ state: 'finished', pending: 0, created: 5000 }))).toBe(0);
    expect(exitCodeFor(statusOf({ state: 'finished', pending: 0, created: 4999, failed: 1 }))).toBe(1);
    expect(exitCodeFor(statusOf({ state: 'cancelled', pending: 0, cancelled: 5000 }))).toBe(0);
    expect(exitCodeFor(statusOf({ state: 'cancelled', pending: 0, cancelled: 4999, failed: 1 }))).toBe(1);
    expect(watchExitCode({ status: statusOf({ failed: 3 }), interrupted: true })).toBe(130);
  });

  it('ends a watch of a cancelled rollout once its last rows have their outcome', () => {
    expect(hasEnded(statusOf({ state: 'running', pending: 1 }))).toBe(false);
    expect(hasEnded(statusOf({ state: 'cancelled', pending: 1 }))).toBe(false);
    expect(hasEnded(statusOf({ state: 'cancelled', pending: 0 }))).toBe(true);
    expect(hasEnded(statusOf({ state: 'finished', pending: 0 }))).toBe(true);
  });
});

describe('RateMeter', () => {
  it('measures rows per second over its window and says when it cannot tell', () => {
    const meter = new RateMeter(10_000);
    meter.add(0, 0);
    expect(meter.perSecond()).toBeNull();
    expect(meter.etaMs(100)).toBeNull();
    meter.add(1000, 50);
    expect(meter.perSecond()).toBe(50);
    expect(meter.etaMs(100)).toBe(2000);
    // A stall longer than the window: the rate falls to 0 and the ETA is unknown.
    meter.add(20_000, 50);
    meter.add(31_000, 50);
    expect(meter.perSecond()).toBe(0);
    expect(meter.etaMs(100)).toBeNull();
    expect(meter.etaMs(0)).toBe(0);
  });

  it('starts over when the count goes down (a retry took rows back)', () => {
    const meter = new RateMeter();
    meter.add(0, 0);
    meter.add(1000, 100);
    meter.add(2000, 40);
    expect(meter.perSecond()).toBeNull();
    meter.add(3000, 60);
    expect(meter.perSecond()).toBe(20);
  });
});

describe('text tables', () => {
  const columns = [
    { header: 'name', value: (r: { name: string; n: number }) => r.name },
    { header: 'n', align: 'right' as const, value: (r: { name: string; n: number }) => String(r.n) },
  ];

  it('aligns columns to the widest cell, numbers to the right, with no trailing spaces', () => {
    expect(
      formatTable(columns, [
        { name: 'Finance pilot', n: 5 },
        { name: 'x', n: 1200 },
      ]),
    ).toBe(['name              n', 'Finance pilot     5', 'x              1200', ''].join('\n'));
  });

  it('prints a row at a time at fixed widths, cutting what is longer onto one line', () => {
    const table = new FixedWidthTable(columns.map((c, i) => ({ ...c, width: i === 0 ? 6 : 4 })));
    expect(table.header()).toBe('name       n\n');
    expect(table.row({ name: 'a long\nname', n: 7 })).toBe('a lon…     7\n');
    expect(table.row({ name: 'ab', n: 12345 })).toBe('ab      12345\n');
  });
});

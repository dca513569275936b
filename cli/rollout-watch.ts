import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { RolloutStatus, RolloutStore } from '../lib/rollout/rollout-store.js';
import { UserError } from '../lib/errors/user-error.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { RateMeter } from './rate-meter.js';
import {
  formatDuration,
  formatRate,
  outcomeCounts,
  progressLine,
  progressNotes,
  rowsEnded,
  summaryLine,
} from '../lib/rollout/progress-text.js';

/** Where a watch writes: a TTY gets a live bar, anything else a line every few seconds. */
export type WatchOutput = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface WatchOptions {
  /** Milliseconds between two reads of the rollout's counters (default 500). */
  intervalMs?: number;
  /** Where progress goes (default process.stdout). */
  out?: WatchOutput;
  /** Milliseconds between two progress lines when `out` is not a TTY (default 3000). */
  lineEveryMs?: number;
  /** Called after every read; what it throws stops the watch and is rethrown (the demo stops when its workers die). */
  onPoll?: (status: RolloutStatus) => void;
  /** Printed after Ctrl-C as the way to watch again; null prints nothing. Default `assignments status <id> --watch`. */
  resumeCommand?: string | null;
  /** Stops the watch the way Ctrl-C does. SIGINT is caught while watching either way. */
  signal?: AbortSignal;
}

export interface WatchResult {
  /** The last status read: ended, or where the rollout stood when the watch was interrupted. */
  status: RolloutStatus;
  /** True when Ctrl-C (or `signal`) stopped the watch; the rollout itself goes on. */
  interrupted: boolean;
}

/** Exit code of a watch stopped by Ctrl-C (128 + SIGINT, as shells report it). */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Exit code for an ended rollout: 1 if any row failed, else 0. A cancelled rollout is not a failure
 * in itself (someone chose to stop it): it gets 0 unless some of its rows failed before it stopped.
 */
export function exitCodeFor(status: RolloutStatus): 0 | 1 {
  return status.failed > 0 ? 1 : 0;
}

/** Exit code for a watch: 130 when interrupted, else `exitCodeFor` its rollout. */
export function watchExitCode(result: WatchResult): number {
  return result.interrupted ? INTERRUPTED_EXIT_CODE : exitCodeFor(result.status);
}

/**
 * A watch ends when every row has an outcome. A cancelled rollout counts as ended once its queued
 * rows are recorded as cancelled and its in-flight rows have finished (pending reaches 0).
 */
export function hasEnded(status: RolloutStatus): boolean {
  return status.state === 'finished' || (status.state === 'cancelled' && status.pending === 0);
}

/**
 * Follows a rollout until it ends, or until Ctrl-C, which stops the watching and never the rollout.
 * On a TTY: a live cli-progress bar (done/total, rate, ETA, counts per outcome). Otherwise: a line
 * like `progress 1234/5000 rows | 41.2/s | ETA 1m32s | created 1200 already 30 failed 4 cancelled 0`
 * at once and then every `lineEveryMs`. Both end with one summary line; after Ctrl-C it says where
 * the rollout stands and how to watch it again. Throws E_ROLLOUT_NOT_FOUND for an unknown rollout
 * (or one whose record expired while watched).
 */
export async function watchRollout(
  store: RolloutStore,
  rolloutId: string,
  options: WatchOptions = {},
): Promise<WatchResult> {
  const out = options.out ?? process.stdout;
  const intervalMs = options.intervalMs ?? 500;
  const lineEveryMs = options.lineEveryMs ?? 3000;
  const resumeCommand =
    options.resumeCommand === undefined ? `assignments status ${rolloutId} --watch` : options.resumeCommand;
  const read = async (): Promise<RolloutStatus> => {
    const s = await store.status(rolloutId);
    if (!s)
      throw new UserError(
        ErrorCodes.ROLLOUT_NOT_FOUND,
        `no rollout ${JSON.stringify(rolloutId)} (QUEUE_PREFIX=${store.keys.prefix})`,
      );
    options.onPoll?.(s);
    return s;
  };

  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.on('SIGINT', onSigint);
  const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
  const meter = new RateMeter();
  const view = out.isTTY === true ? new BarView(out) : new LineView(out, lineEveryMs);
  let status: RolloutStatus | undefined;
  try {
    status = await read();
    meter.add(Date.now(), rowsEnded(status));
    if (!hasEnded(status)) view.show(status, meter);
    while (!hasEnded(status) && !signal.aborted) {
      if (await interrupted(intervalMs, signal)) break;
      status = await read();
      meter.add(Date.now(), rowsEnded(status));
      view.show(status, meter);
    }
  } finally {
    view.close();
    process.off('SIGINT', onSigint);
  }
  const result = { status, interrupted: signal.aborted && !hasEnded(status) };
  out.write(`${summaryLine(status, result.interrupted ? 'interrupted' : 'ended')}\n`);
  if (result.interrupted && resumeCommand) out.write(`watch it again: ${resumeCommand}\n`);
  return result;
}

/** Waits `ms`; true if `signal` fired meanwhile. */
async function interrupted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return false;
  } catch (err) {
    if (signal.aborted) return true;
    throw err;
  }
}

interface ProgressView {
  show(status: RolloutStatus, meter: RateMeter): void;
  close(): void;
}

/** Not a terminal (a pipe, a CI log): one line now and then one every `everyMs`. */
class LineView implements ProgressView {
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: WatchOutput,
    private readonly everyMs: number,
  ) {}

  show(status: RolloutStatus, meter: RateMeter): void {
    const now = Date.now();
    if (now - this.lastAt < this.everyMs || hasEnded(status)) return;
    this.lastAt = now;
    this.out.write(`${progressLine(status, meter.perSecond(), meter.etaMs(status.pending))}\n`);
  }

  close(): void {}
}

/** A terminal: one live bar, redrawn in place. */
class BarView implements ProgressView {
  private readonly bar: cliProgress.SingleBar;
  private started = false;

  constructor(out: WatchOutput) {
    this.bar = new cliProgress.SingleBar(
      {
        stream: out,
        format: 'progress {bar} {value}/{total} rows | {rate}/s | ETA {etaText} | {counts}{notes}',
        hideCursor: true,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  show(status: RolloutStatus, meter: RateMeter): void {
    const payload = {
      rate: formatRate(meter.perSecond()),
      etaText: formatDuration(meter.etaMs(status.pending)),
      counts: outcomeCounts(status),
      notes: progressNotes(status),
    };
    if (!this.started) {
      this.bar.start(status.total, rowsEnded(status), payload);
      this.started = true;
    } else {
      this.bar.update(rowsEnded(status), payload);
    }
  }

  close(): void {
    if (this.started) this.bar.stop();
  }
}

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../redis/redis-keys.js';
import { retryWith } from '../retry/retry-with.js';
import { summable, type MetricsJson } from './fleet-metrics.js';
import { foldRetiredMetrics } from './fold-retired-metrics.js';

const STOP_TIMEOUT_MS = 2000;

/** The fold's compare-and-set found the retired sum changed since it was read. */
class FoldOvertaken extends Error {
  constructor() {
    super('another fold landed first');
  }
}

export interface MetricsPublisherOptions {
  /** How often the snapshot is refreshed; a scrape sees counts at most this old. */
  intervalMs?: number;
  /**
   * How long a snapshot outlives its last refresh. Several intervals, so a worker busy for a moment
   * does not blink out of the fleet, yet a dead one drops out soon.
   */
  ttlMs?: number;
  logger?: Logger;
}

/**
 * Puts a worker process's registry in Redis (`registry.getMetricsAsJSON()`), so the server can add
 * every worker's counts up in one scrape (see fleet-metrics.ts) without knowing where workers run or
 * reaching them over the network.
 *
 * When the worker stops, its counts move into the retired sum (`RedisKeys.metricsRetired`), so the
 * fleet's counters never go down at a deploy or a scale-down, which Prometheus would read as a
 * counter reset. A worker that dies without stopping drops out when its snapshot expires: a reset.
 */
export class MetricsPublisher {
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  /** The publish in progress: stop() waits for it, so no publish of this worker lands after its fold. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly workerId: string,
    private readonly registry: Registry,
    private readonly options: MetricsPublisherOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  /** Publishes at once (the worker shows up in the fleet before its first interval), then periodically. */
  async start(): Promise<void> {
    await this.tick();
  }

  /**
   * Stops the refreshes and retires the worker: its final counts (the counters and histograms)
   * are added into the retired sum, and its live snapshot and list entry removed, in one atomic
   * step, so a scrape sees them exactly once. Workers stopping at once each retry until their fold
   * lands on the sum as it is. Gives up after a moment: a worker's Redis connection queues commands
   * while Redis is away, and that must not hold the worker's exit up. The live snapshot then
   * expires as a killed worker's would. Once per publisher: a second call waits for the first.
   */
  stop(): Promise<void> {
    this.stopping ??= this.retireWithin(STOP_TIMEOUT_MS);
    return this.stopping;
  }

  private async retireWithin(ms: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const deadline = Date.now() + ms;
    // After the publish in progress, so no snapshot of this worker is written after its fold.
    const retired = this.inFlight
      .then(() => this.retire(deadline))
      .catch((err: unknown) => {
        this.options.logger?.warn(
          { err },
          'metrics not retired; this worker’s counts leave the fleet’s totals when its snapshot expires',
        );
      });
    await Promise.race([retired, sleep(ms, undefined, { ref: false })]);
  }

  private async retire(deadline: number): Promise<void> {
    const final = summable(await this.registry.getMetricsAsJSON());
    const retiredKey = this.keys.metricsRetired();
    await retryWith(
      async () => {
        // The bytes as stored, for the compare-and-set's hash.
        const current = (await this.redis.getBuffer(retiredKey)) ?? Buffer.alloc(0);
        // A value that is not a snapshot is not overwritten: someone else's, to be looked at.
        const parsed: unknown = current.length === 0 ? [] : JSON.parse(current.toString('utf8'));
        if (!Array.isArray(parsed)) throw new Error(`${retiredKey} does not hold a metrics snapshot`);
        // This version's help text first; every counter and histogram aggregates by summing.
        const sum = await AggregatorRegistry.aggregate([final, summable(parsed as MetricsJson)]).getMetricsAsJSON();
        // A compare-and-set on the sum as read (why a script, not WATCH: fold-retired-metrics-3.lua).
        const folded = await foldRetiredMetrics(
          this.redis,
          {
            retired: retiredKey,
            liveSnapshot: this.keys.workerMetrics(this.workerId),
            workers: this.keys.metricsWorkers(),
          },
          {
            sha1Hex: createHash('sha1').update(current).digest('hex'),
            sum: JSON.stringify(sum),
            workerId: this.workerId,
          },
        );
        if (folded !== 1) throw new FoldOvertaken();
      },
      {
        // Bounded by the deadline, not by a count: how many workers stop at once is not known.
        maxAttempts: Number.POSITIVE_INFINITY,
        nextDelayMs: ({ error, attempt }) => {
          // Another worker's fold landed in between: fold onto the new sum. Only a fold that did not
          // happen is tried again (an error is not), so counts are never added twice.
          if (!(error instanceof FoldOvertaken)) throw error;
          if (Date.now() >= deadline)
            throw new Error(`the retired metrics changed under ${attempt} attempts to fold into them`);
          return Math.random() * 5 * attempt;
        },
      },
    );
  }

  private async tick(): Promise<void> {
    this.inFlight = this.publishQuietly();
    await this.inFlight;
    // A timeout chain rather than an interval: a slow Redis never stacks publishes up.
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.intervalMs).unref();
  }

  private async publishQuietly(): Promise<void> {
    try {
      await this.publish();
    } catch (err) {
      // Redis being away is already logged by the connection; metrics catch up at the next tick.
      this.options.logger?.debug({ err }, 'metrics not published');
    }
  }

  private async publish(): Promise<void> {
    const snapshot = JSON.stringify(await this.registry.getMetricsAsJSON());
    const workers = this.keys.metricsWorkers();
    await this.redis
      .multi()
      .set(this.keys.workerMetrics(this.workerId), snapshot, 'PX', this.ttlMs)
      .zadd(workers, Date.now(), this.workerId)
      // The list goes with the last worker; the fleet reader trims members whose snapshot expired.
      .pexpire(workers, this.ttlMs)
      .exec();
  }
}

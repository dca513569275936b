import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../redis-keys.js';

const STOP_TIMEOUT_MS = 2000;

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
 */
export class MetricsPublisher {
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The publish in progress: stop() waits for it, so the final snapshot is written last. */
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
   * Stops the refreshes and writes a last snapshot, so the counts since the previous one are not
   * lost. Gives up after a moment: a worker's Redis connection queues commands while Redis is away,
   * and that must not hold the worker's exit up.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const last = this.inFlight.then(() => this.publishQuietly());
    await Promise.race([last, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
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

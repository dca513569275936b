import type { Assignment } from '../lib/graph/assignment.js';
import type { AssignmentsApi } from '../lib/graph/assignments-api.js';
import { GraphFailure, gaveUp } from '../lib/graph/graph-failure.js';
import type { RateLimit } from '../lib/rate-limit-spec.js';
import { backoffDelayMs } from '../lib/lanes/backoff.js';
import { retryWith } from '../lib/retry/retry-with.js';
import { ReadPace, realClock, type PaceClock } from './read-pace.js';

/** Reads per second per tenant when GRAPH_RATE_LIMIT is not set. */
export const DEFAULT_READS_PER_SECOND = 5;

export interface AssignmentReaderOptions {
  /** Most requests per second per tenant (each page is one). Default DEFAULT_READS_PER_SECOND. */
  maxRequestsPerSecond?: number;
  /** Tries per page request, the first included, across every failure kind. Default 4. */
  maxAttempts?: number;
  /** First backoff step in milliseconds, doubled per attempt (RETRY_BASE_DELAY_MS). Default 1000. */
  baseDelayMs?: number;
  clock?: PaceClock;
  /** Backoff jitter; tests pass a fixed one. */
  random?: () => number;
}

/** GRAPH_RATE_LIMIT as requests per second, or the default when it is not set. */
export function readsPerSecondFor(rateLimit: RateLimit | undefined): number {
  return rateLimit ? (rateLimit.max * 1000) / rateLimit.windowMs : DEFAULT_READS_PER_SECOND;
}

/**
 * Whole listings of a configuration's assignments (every page, following @odata.nextLink), for a
 * client that has no tenant lanes: the dry run. Each page request takes a slot of its tenant's
 * ReadPace. A page that fails in a way worth retrying is retried in place (a retry on page 7 does not
 * start over from page 1): throttling and 503 pause the tenant for Retry-After, or exponential
 * backoff when Graph gives none; 5xx, timeouts and network errors back off; a 401 is retried once
 * with a fresh token. Anything else, or the last attempt's failure, is thrown as a GraphFailure.
 */
export class AssignmentReader {
  private readonly pace: ReadPace;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly clock: PaceClock;
  private readonly random: () => number;

  constructor(
    private readonly api: Pick<AssignmentsApi, 'listPage' | 'prepare'>,
    options: AssignmentReaderOptions = {},
  ) {
    const perSecond = options.maxRequestsPerSecond ?? DEFAULT_READS_PER_SECOND;
    if (!(perSecond > 0)) throw new RangeError(`maxRequestsPerSecond must be more than 0, got ${String(perSecond)}`);
    this.clock = options.clock ?? realClock;
    this.pace = new ReadPace(1000 / perSecond, this.clock);
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.random = options.random ?? Math.random;
  }

  async listAll(tenantId: string, configurationId: string): Promise<Assignment[]> {
    const all: Assignment[] = [];
    let next: string | undefined;
    do {
      const page = await this.page(tenantId, configurationId, next);
      all.push(...page.assignments);
      next = page.nextLink;
    } while (next);
    return all;
  }

  private async page(
    tenantId: string,
    configurationId: string,
    nextLink: string | undefined,
  ): Promise<{ assignments: Assignment[]; nextLink?: string }> {
    let freshToken = false;
    let refreshed = false;
    return retryWith(
      async () => {
        if (freshToken) await this.api.prepare(tenantId, true);
        freshToken = false;
        await this.pace.take(tenantId);
        return this.api.listPage(tenantId, configurationId, nextLink);
      },
      {
        maxAttempts: this.maxAttempts,
        nextDelayMs: ({ error, attempt, attemptsLeft }) => {
          if (!(error instanceof GraphFailure)) throw error;
          if (error.kind === 'permanent') throw error;
          if (error.kind === 'unauthorized') {
            // Once with a token fresh from Entra ID; a second 401 is final.
            if (refreshed) throw error;
            refreshed = freshToken = true;
          }
          if (attemptsLeft === 0) throw gaveUp(error, attempt);
          if (error.kind === 'unauthorized') return 0;
          const delayMs = Math.max(backoffDelayMs(attempt, this.baseDelayMs, this.random), error.retryAfterMs ?? 0);
          if (error.kind === 'throttled' || error.httpStatus === 503) {
            // The tenant as a whole was told to wait, so every read of it waits (in pace.take).
            this.pace.pause(tenantId, this.clock.now() + delayMs);
            return 0;
          }
          return delayMs;
        },
        // 0 is no wait here: a fresh token is tried at once, and a paused tenant waits in pace.take.
        sleep: (delayMs) => (delayMs > 0 ? this.clock.sleep(delayMs) : Promise.resolve()),
      },
    );
  }
}

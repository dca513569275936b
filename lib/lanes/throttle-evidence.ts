import { refusedAtDoor, type GraphFailure } from '../graph/graph-failure.js';

/**
 * Which answers teach a lane its pace. A 429 always does. A 5xx, a reset or a timeout says nothing
 * about the tenant's budget: it is the request's fault, retried with backoff, and the lane keeps
 * its pace. A 503 is both: Graph sends it with Retry-After when it sheds load, and a faulty node
 * sends it too. The rule: a 503 with Retry-After is throttling when at least `needed` of the last
 * `window` answers this process got from the tenant (itself included) were 429s or 503s with
 * Retry-After; a 503 without Retry-After never is.
 *
 * Why it holds: throttling comes in runs (every request over the budget is refused until the window
 * frees), faults come one at a time. With 3 % of answers such 503s, 4 of 10 by chance happens about
 * once in 18,000 answers (3 of 10: once in 1,200); a throttled burst reaches it within its first
 * few answers. The count is kept in the process, not in Redis: it costs nothing per request, and a
 * run of throttling shows in every process that sends to the tenant.
 */
export class ThrottleEvidence {
  private readonly recent = new Map<string, boolean[]>();

  constructor(
    private readonly window = 10,
    private readonly needed = 4,
  ) {}

  /** Counts this answer and says whether it is a throttling signal for the tenant's lane. */
  answer(tenantId: string, failure: GraphFailure | undefined): boolean {
    const throttled = failure !== undefined && refusedAtDoor(failure);
    let answers = this.recent.get(tenantId);
    if (!answers) {
      // Nothing to remember about a tenant that has only had good answers.
      if (!throttled) return false;
      answers = [];
      this.recent.set(tenantId, answers);
    }
    answers.push(throttled);
    if (answers.length > this.window) answers.shift();
    if (!throttled) {
      if (!answers.includes(true)) this.recent.delete(tenantId);
      return false;
    }
    if (failure.kind === 'throttled') return true;
    return answers.filter(Boolean).length >= this.needed;
  }
}

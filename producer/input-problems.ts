import { ErrorCodes } from '../lib/errors/codes.js';
import { UserError } from '../lib/errors/user-error.js';

/** Problem lines shown before the rest are summarised in one line; a terminal, not a log file. */
export const MAX_PROBLEM_LINES = 50;

/**
 * The problems found in one input, formatted `<name>:<line>: <reason>` like a compiler's, so editors
 * and terminals can jump to them. Only the first MAX_PROBLEM_LINES are kept: a file with 100,000 bad
 * rows costs no more memory than one with 51.
 */
export class InputProblems {
  private readonly shown: string[] = [];
  private total = 0;

  /** @param displayName the path as the user gave it, or `stdin` */
  constructor(private readonly displayName: string) {}

  get count(): number {
    return this.total;
  }

  add(line: number, reason: string): void {
    this.total++;
    if (this.shown.length < MAX_PROBLEM_LINES) this.shown.push(`${this.displayName}:${line}: ${reason}`);
  }

  /** The error the CLI prints and exits 2 on; meaningful only when `count > 0`. */
  toUserError(): UserError {
    const details = [...this.shown];
    const hidden = this.total - this.shown.length;
    if (hidden > 0) details.push(`… and ${hidden} more problems`);
    return new UserError(
      ErrorCodes.INPUT_INVALID,
      `${this.displayName}: ${this.total} problem(s), nothing was enqueued`,
      2,
      details,
    );
  }
}

/**
 * An error meant for a person at a terminal: a stable code, a short message, no stack trace.
 * The CLI prints `error <code>: <message>` (plus any detail lines) and exits with `exitCode`.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 2,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * Every user-facing error code, registered once. Codes appear in exit messages, logs and reports;
 * tests and users match on them, never on the message text.
 */
export const ErrorCodes = {
  /** An environment variable is missing or malformed. */
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  /** The input file could not be read (missing, unreadable). */
  INPUT_UNREADABLE: 'E_INPUT_UNREADABLE',
  /** The input file has one or more bad rows or is not CSV/JSON of the expected shape. */
  INPUT_INVALID: 'E_INPUT_INVALID',
  /** The rollout id is unknown. */
  ROLLOUT_NOT_FOUND: 'E_ROLLOUT_NOT_FOUND',
  /** The rollout's state does not allow the operation (cancel a finished rollout, nothing to retry). */
  ROLLOUT_STATE: 'E_ROLLOUT_STATE',
  /** Redis did not answer. */
  REDIS_UNAVAILABLE: 'E_REDIS_UNAVAILABLE',
  /** `sync --prune` would delete more than the threshold allows; nothing was written. */
  PRUNE_REFUSED: 'E_PRUNE_REFUSED',
  /** No schedule of that name. */
  SCHEDULE_NOT_FOUND: 'E_SCHEDULE_NOT_FOUND',
  /** A bad command-line argument. */
  USAGE: 'E_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may hold a secret or a token anywhere in a log object. pino removes them before
 * serialization, at every level, debug included.
 */
export const REDACTED_PATHS = [
  'authorization',
  'Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.authorization',
  '*.Authorization',
  '*.headers.authorization',
  'accessToken',
  'access_token',
  '*.accessToken',
  '*.access_token',
  'token',
  '*.token',
  'clientSecret',
  'client_secret',
  '*.clientSecret',
  '*.client_secret',
  'AZURE_CLIENT_SECRET',
  '*.AZURE_CLIENT_SECRET',
  'privateKey',
  '*.privateKey',
  'clientAssertion',
  '*.clientAssertion',
];

/** One logger factory: JSON lines on stderr (stdout is for command output such as --json). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * Errors from HTTP clients carry their request options (headers with the bearer token). Only the
 * fields that explain a failure are kept.
 */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: unknown; httpStatus?: unknown; graphCode?: unknown; requestId?: unknown };
  return {
    type: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}),
    ...(e.graphCode !== undefined ? { graphCode: e.graphCode } : {}),
    ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
  };
}

/**
 * How an emulator behaves: where it listens, how hard it throttles, how often it fails. Every field is
 * optional; the defaults give a quiet, fast, well-behaved Graph.
 */
export interface EmulatorOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TCP port. Default 8443; 0 picks any free port (read it back from `origin`). */
  port?: number;
  /** Directory for the generated certificate and key (PEM). Default `./.emulator` in the cwd. */
  certDir?: string;
  /**
   * Per-tenant limit on Graph writes (POST and DELETE): at most `max` accepted writes inside any
   * sliding window of `windowMs` milliseconds; more answer 429 with Retry-After. Default: no limit.
   */
  rateLimit?: { max: number; windowMs: number };
  /**
   * How Retry-After is written. `fractional` (default) seconds with milliseconds, e.g. `0.731`, as
   * Graph's documented samples; `seconds` a whole number rounded up; `date` an HTTP date; `none`
   * omits the header, as Intune endpoints often do.
   */
  retryAfterFormat?: RetryAfterFormat;
  /** Milliseconds added before every Graph response. Default 0. */
  latencyMs?: number;
  /** Probabilities (0..1, summing to at most 1) of each fault on assignment POSTs. Default none. */
  faults?: FaultRates;
  /** Milliseconds after a `slowCommit` 504 that its assignment is created. Default 1500. */
  slowCommitMs?: number;
  /** Assignments per page when listing. Default 100. */
  pageSize?: number;
  /**
   * false (default): any GUID is an existing configuration, created on first use. true: only
   * configurations created through the control API (or Graph POST) exist; others answer 404.
   */
  strictConfigurations?: boolean;
  /** If set, the token endpoint refuses any other client secret (401 invalid_client). */
  clientSecret?: string;
  /** Lifetime of issued access tokens in seconds. Default 3599, as Entra ID. */
  tokenLifetimeSeconds?: number;
  /** Seed for the fault dice, so a test run's fault sequence repeats. Default: random. */
  seed?: number;
}

/**
 * Probability (0..1) of each fault on an assignment POST. One die is rolled per request, so the rates
 * are exclusive and must sum to at most 1.
 */
export interface FaultRates {
  /** 503 ServiceUnavailable with Retry-After 1 s; nothing is created. */
  serviceUnavailable?: number;
  /** 500 InternalServerError; nothing is created. */
  internalError?: number;
  /** The connection is destroyed before the commit; nothing is created. */
  reset?: number;
  /** The assignment is created, then the connection is destroyed without an answer. */
  commitThenReset?: number;
  /** 504 GatewayTimeout at once; the assignment is created `slowCommitMs` later. */
  slowCommit?: number;
}

export type FaultKind = keyof FaultRates;

/** Every fault kind, in the order the die is read. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'serviceUnavailable',
  'internalError',
  'reset',
  'commitThenReset',
  'slowCommit',
];

export type RetryAfterFormat = 'fractional' | 'seconds' | 'date' | 'none';

export const RETRY_AFTER_FORMATS: readonly RetryAfterFormat[] = ['fractional', 'seconds', 'date', 'none'];

/** Options with every default filled in and every value checked. */
export interface ResolvedEmulatorOptions {
  host: string;
  port: number;
  certDir: string;
  rateLimit: { max: number; windowMs: number } | undefined;
  retryAfterFormat: RetryAfterFormat;
  latencyMs: number;
  faults: FaultRates;
  slowCommitMs: number;
  pageSize: number;
  strictConfigurations: boolean;
  clientSecret: string | undefined;
  tokenLifetimeSeconds: number;
  seed: number | undefined;
}

/**
 * Fills in defaults and refuses nonsense (negative latency, port 70000, a window of 0 ms) with a
 * RangeError naming the option, before anything listens. Fault rates are checked where they are
 * used (FaultPlan), since the control API replaces them at run time too.
 */
export function resolveEmulatorOptions(options: EmulatorOptions = {}): ResolvedEmulatorOptions {
  const resolved: ResolvedEmulatorOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8443,
    certDir: options.certDir ?? './.emulator',
    rateLimit: options.rateLimit,
    retryAfterFormat: options.retryAfterFormat ?? 'fractional',
    latencyMs: options.latencyMs ?? 0,
    faults: options.faults ?? {},
    slowCommitMs: options.slowCommitMs ?? 1500,
    pageSize: options.pageSize ?? 100,
    strictConfigurations: options.strictConfigurations ?? false,
    clientSecret: options.clientSecret,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    seed: options.seed,
  };
  requireInteger('port', resolved.port, 0, 65_535);
  requireInteger('latencyMs', resolved.latencyMs, 0);
  requireInteger('slowCommitMs', resolved.slowCommitMs, 0);
  requireInteger('pageSize', resolved.pageSize, 1, 999);
  requireInteger('tokenLifetimeSeconds', resolved.tokenLifetimeSeconds, 1);
  if (resolved.rateLimit) {
    requireInteger('rateLimit.max', resolved.rateLimit.max, 1);
    requireInteger('rateLimit.windowMs', resolved.rateLimit.windowMs, 1);
  }
  if (resolved.seed !== undefined) requireInteger('seed', resolved.seed, Number.MIN_SAFE_INTEGER);
  if (!RETRY_AFTER_FORMATS.includes(resolved.retryAfterFormat)) {
    throw new RangeError(
      `retryAfterFormat must be one of ${RETRY_AFTER_FORMATS.join(', ')}, got '${String(resolved.retryAfterFormat)}'`,
    );
  }
  if (resolved.clientSecret === '') throw new RangeError('clientSecret must not be empty');
  return resolved;
}

function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { checkThrottleSpec, type ThrottleSpec } from './throttle-model.js';

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
   * The global throttle when it is to be other than `rateLimit`'s sliding window over writes: a model
   * (`sliding-writes`, `token-bucket` over every request, `fixed-window` over writes), its budget and
   * its signal (`429`, `429-no-retry-after`, `503`). Not together with `rateLimit`. Default: none.
   */
  throttle?: ThrottleSpec;
  /** Per tenant (GUID), a throttle that replaces the global one for that tenant. */
  tenantThrottle?: Record<string, ThrottleSpec>;
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
  /**
   * Milliseconds the Retry-After of a `serviceUnavailable` fault asks for, on POSTs, GETs and token
   * requests alike (a token request's in whole seconds, rounded up). Default 1000.
   */
  faultRetryAfterMs?: number;
  /** Probabilities of each fault on Graph GETs (lists, a configuration, an assignment, a group). Default none. */
  readFaults?: RequestFaultRates;
  /** Probabilities of each fault on token requests (tenants given by GUID). Default none. */
  tokenFaults?: RequestFaultRates;
  /** Milliseconds after a `slowCommit` 504 that its assignment is created. Default 1500. */
  slowCommitMs?: number;
  /** Assignments per page when listing. Default 100. */
  pageSize?: number;
  /**
   * true (default): only configurations created through the control API (or a Graph POST) exist;
   * any other id answers 404 ResourceNotFound. false, the lenient mode: any GUID is an
   * existing configuration, created on first use, for dry runs of a real rollout file.
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
 * Probability (0..1) of each fault on a request that commits nothing: a Graph GET or a token request.
 * One die per request, so the rates must sum to at most 1.
 */
export interface RequestFaultRates {
  /** 503 ServiceUnavailable with Retry-After (`faultRetryAfterMs`, 1 s by default); nothing is done. */
  serviceUnavailable?: number;
  /** 503 ServiceUnavailable without Retry-After; nothing is done. */
  serviceUnavailableNoRetryAfter?: number;
  /** 500 InternalServerError; nothing is done. */
  internalError?: number;
  /** 502 BadGateway; nothing is done. */
  badGateway?: number;
  /** 504 GatewayTimeout; nothing is done. */
  gatewayTimeout?: number;
  /** The connection is destroyed without an answer; nothing is done. */
  reset?: number;
}

export type RequestFaultKind = keyof RequestFaultRates;

/**
 * Probability (0..1) of each fault on an assignment POST: every request fault (same names, and
 * nothing is created), plus the two that only a write can have, because they commit. One die is
 * rolled per request, so the rates are exclusive and must sum to at most 1.
 */
export interface FaultRates extends RequestFaultRates {
  /** The assignment is created, then the connection is destroyed without an answer. */
  commitThenReset?: number;
  /** 504 GatewayTimeout at once; the assignment is created `slowCommitMs` later. */
  slowCommit?: number;
}

export type FaultKind = keyof FaultRates;

/** Every request fault kind, in the order the die is read. */
export const REQUEST_FAULT_KINDS: readonly RequestFaultKind[] = [
  'serviceUnavailable',
  'serviceUnavailableNoRetryAfter',
  'internalError',
  'badGateway',
  'gatewayTimeout',
  'reset',
];

/**
 * Every POST fault kind, in the order the die is read. The old kinds kept their relative order and a
 * kind at rate 0 takes no room on the die, so the kinds added later did not shift any seeded run.
 */
export const FAULT_KINDS: readonly FaultKind[] = [...REQUEST_FAULT_KINDS, 'commitThenReset', 'slowCommit'];

export type RetryAfterFormat = 'fractional' | 'seconds' | 'date' | 'none';

export const RETRY_AFTER_FORMATS: readonly RetryAfterFormat[] = ['fractional', 'seconds', 'date', 'none'];

/** Options with every default filled in and every value checked. */
export interface ResolvedEmulatorOptions {
  host: string;
  port: number;
  certDir: string;
  rateLimit: { max: number; windowMs: number } | undefined;
  /** The global throttle: `throttle`, or `rateLimit` as a `sliding-writes` throttle, or none. */
  throttle: Required<ThrottleSpec> | undefined;
  /** Keys are canonical (lower-case) tenant GUIDs. */
  tenantThrottle: Record<string, Required<ThrottleSpec>>;
  readFaults: RequestFaultRates;
  tokenFaults: RequestFaultRates;
  retryAfterFormat: RetryAfterFormat;
  latencyMs: number;
  faults: FaultRates;
  faultRetryAfterMs: number;
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
    throttle: undefined,
    tenantThrottle: {},
    readFaults: options.readFaults ?? {},
    tokenFaults: options.tokenFaults ?? {},
    retryAfterFormat: options.retryAfterFormat ?? 'fractional',
    latencyMs: options.latencyMs ?? 0,
    faults: options.faults ?? {},
    faultRetryAfterMs: options.faultRetryAfterMs ?? 1000,
    slowCommitMs: options.slowCommitMs ?? 1500,
    pageSize: options.pageSize ?? 100,
    strictConfigurations: options.strictConfigurations ?? true,
    clientSecret: options.clientSecret,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    seed: options.seed,
  };
  requireInteger('port', resolved.port, 0, 65_535);
  requireInteger('latencyMs', resolved.latencyMs, 0);
  requireInteger('slowCommitMs', resolved.slowCommitMs, 0);
  requireInteger('faultRetryAfterMs', resolved.faultRetryAfterMs, 1);
  requireInteger('pageSize', resolved.pageSize, 1, 999);
  requireInteger('tokenLifetimeSeconds', resolved.tokenLifetimeSeconds, 1);
  if (resolved.rateLimit) {
    requireInteger('rateLimit.max', resolved.rateLimit.max, 1);
    requireInteger('rateLimit.windowMs', resolved.rateLimit.windowMs, 1);
  }
  if (options.throttle && options.rateLimit) {
    throw new RangeError('rateLimit and throttle are two ways to set the global throttle: give one');
  }
  if (options.throttle) resolved.throttle = checkThrottleSpec(options.throttle, 'throttle');
  else if (resolved.rateLimit) resolved.throttle = { model: 'sliding-writes', ...resolved.rateLimit, signal: '429' };
  for (const [tenantId, spec] of Object.entries(options.tenantThrottle ?? {})) {
    if (!isObjectId(tenantId)) throw new RangeError(`tenantThrottle: the tenant id must be a GUID, got '${tenantId}'`);
    resolved.tenantThrottle[normalizeObjectId(tenantId)] = checkThrottleSpec(spec, `tenantThrottle[${tenantId}]`);
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

import { z } from 'zod';
import { isObjectId } from './object-id.js';
import { parseRateLimit, type RateLimit } from './rate-limit-spec.js';
import { UserError } from './errors/user-error.js';
import { ErrorCodes } from './errors/codes.js';

/**
 * The service's configuration, read from the environment once at start and validated as a whole, so a
 * bad value is named before anything happens. Names follow the Azure SDK where it has one.
 */
export interface Config {
  redisUrl: string;
  /** BullMQ prefix and the prefix of every key of ours: lets deployments share one Redis. */
  queuePrefix: string;
  /** Default tenant for rows without a tenantId. */
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  clientCertificatePath?: string;
  /** https origin of Entra ID; anything but Microsoft's is used without instance discovery. */
  authorityHost: string;
  /** Graph base including the API version, without a trailing slash. */
  graphBaseUrl: string;
  /** Requests per tenant per window; undefined = learn the pace from Graph's answers. */
  rateLimit?: RateLimit;
  graphTimeoutMs: number;
  workerConcurrency: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Attempts a row may spend on transient failures (throttling waits spend none). */
  retryMaxAttempts: number;
  /** A row older than this stops retrying and fails with its last reason. */
  retryMaxAgeMs: number;
  /** First backoff step; doubles per attempt, times a random factor in [0.5, 1). */
  retryBaseDelayMs: number;
  /** How long after an ambiguous POST before we trust a read of the configuration's assignments. */
  graphSettleMs: number;
  /** How long a rollout's outcomes stay in Redis. */
  outcomeRetentionMs: number;
  /** BullMQ lock: a killed worker's job is re-run by another worker after about this long. */
  workerLockMs: number;
  /** SIGTERM/SIGINT: how long in-flight jobs get to finish before they are handed back. */
  shutdownTimeoutMs: number;
  /** `assignments serve`: where the operations server listens. */
  serverHost: string;
  serverPort: number;
  /** Shared secret of the HMAC-SHA256 signatures on `POST /events`; unset = event intake off. */
  eventsHmacSecret?: string;
  /** Rules mapping events to configurations (YAML or JSON); unset = events match nothing. */
  rulesFile?: string;
  /** The clientState our Graph change-notification subscriptions carry; unset = webhook off. */
  graphWebhookClientState?: string;
  /** Bearer token (or login) for `/ui`; required when the server binds anything but loopback. */
  dashboardToken?: string;
  /** A worker's own `/metrics` port; unset = the worker publishes its metrics through Redis only. */
  metricsPort?: number;
  /** Events for the same (tenant, group) within this long become one job. */
  eventDebounceMs: number;
  /** Largest request body `/events` and `/webhooks/graph` accept (413 beyond). */
  eventsMaxBodyBytes: number;
}

const DEFAULTS = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: 'assign',
  AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com',
  GRAPH_BASE_URL: 'https://graph.microsoft.com/beta',
  GRAPH_TIMEOUT_MS: '20000',
  WORKER_CONCURRENCY: '16',
  LOG_LEVEL: 'info',
  RETRY_MAX_ATTEMPTS: '8',
  RETRY_MAX_AGE_MS: String(60 * 60 * 1000),
  RETRY_BASE_DELAY_MS: '1000',
  GRAPH_SETTLE_MS: '5000',
  OUTCOME_RETENTION_DAYS: '30',
  WORKER_LOCK_MS: '30000',
  SHUTDOWN_TIMEOUT_MS: '25000',
  SERVER_HOST: '127.0.0.1',
  SERVER_PORT: '3000',
  EVENT_DEBOUNCE_MS: '5000',
  EVENTS_MAX_BODY_BYTES: String(256 * 1024),
} as const;

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      `must be a ${protocols.join(' or ')} URL`,
    );

const guid = z
  .string()
  .trim()
  .refine(isObjectId, 'must be a GUID')
  .transform((s) => s.toLowerCase());

const schema = z.object({
  REDIS_URL: url(['redis:', 'rediss:']),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_{}.-]{1,64}$/, 'must be 1-64 letters, digits, _ . - { }'),
  AZURE_TENANT_ID: guid.optional(),
  AZURE_CLIENT_ID: z.string().trim().min(1).optional(),
  AZURE_CLIENT_SECRET: z.string().min(1).optional(),
  AZURE_CLIENT_CERTIFICATE_PATH: z.string().min(1).optional(),
  AZURE_AUTHORITY_HOST: url(['https:']),
  GRAPH_BASE_URL: url(['https:', 'http:']),
  GRAPH_RATE_LIMIT: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return undefined;
      try {
        return parseRateLimit(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  GRAPH_TIMEOUT_MS: int(100, 600_000),
  WORKER_CONCURRENCY: int(1, 1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  RETRY_MAX_ATTEMPTS: int(1, 100),
  RETRY_MAX_AGE_MS: int(1000, 30 * 24 * 3600 * 1000),
  RETRY_BASE_DELAY_MS: int(1, 600_000),
  GRAPH_SETTLE_MS: int(0, 600_000),
  OUTCOME_RETENTION_DAYS: z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of days')
    .transform(Number)
    .refine((n) => n > 0 && n <= 3650, 'must be more than 0 and at most 3650'),
  WORKER_LOCK_MS: int(1000, 600_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000),
  SERVER_HOST: z.string().trim().min(1, 'must be a host name or address'),
  SERVER_PORT: int(0, 65535),
  EVENTS_HMAC_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  RULES_FILE: z.string().min(1).optional(),
  GRAPH_WEBHOOK_CLIENT_STATE: z.string().min(1).max(128, 'must be at most 128 characters (Graph limit)').optional(),
  DASHBOARD_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: int(0, 65535).optional(),
  EVENT_DEBOUNCE_MS: int(0, 3_600_000),
  EVENTS_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024),
});

type EnvName = keyof typeof schema.shape;

/** Reads and validates the environment; a bad value throws a UserError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape) as EnvName[]) {
    const value = env[name];
    const empty = value === undefined || value === '';
    raw[name] = empty ? (DEFAULTS as Record<string, string | undefined>)[name] : value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      // Never echo a secret back, even a malformed one.
      const value = raw[name] ?? '';
      const secret = ['SECRET', 'TOKEN', 'CLIENT_STATE'].some((part) => name.includes(part));
      const shown = secret || issue.message.includes(value) ? '' : ` (got ${JSON.stringify(value)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new UserError(ErrorCodes.CONFIG_INVALID, lines[0] ?? 'invalid configuration', 2, lines.slice(1));
  }
  const e = parsed.data;
  return {
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    tenantId: e.AZURE_TENANT_ID,
    clientId: e.AZURE_CLIENT_ID,
    clientSecret: e.AZURE_CLIENT_SECRET,
    clientCertificatePath: e.AZURE_CLIENT_CERTIFICATE_PATH,
    authorityHost: e.AZURE_AUTHORITY_HOST.replace(/\/+$/, ''),
    graphBaseUrl: e.GRAPH_BASE_URL.replace(/\/+$/, ''),
    rateLimit: e.GRAPH_RATE_LIMIT,
    graphTimeoutMs: e.GRAPH_TIMEOUT_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    logLevel: e.LOG_LEVEL,
    retryMaxAttempts: e.RETRY_MAX_ATTEMPTS,
    retryMaxAgeMs: e.RETRY_MAX_AGE_MS,
    retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
    graphSettleMs: e.GRAPH_SETTLE_MS,
    outcomeRetentionMs: Math.round(e.OUTCOME_RETENTION_DAYS * 24 * 3600 * 1000),
    workerLockMs: e.WORKER_LOCK_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    serverHost: e.SERVER_HOST,
    serverPort: e.SERVER_PORT,
    eventsHmacSecret: e.EVENTS_HMAC_SECRET,
    rulesFile: e.RULES_FILE,
    graphWebhookClientState: e.GRAPH_WEBHOOK_CLIENT_STATE,
    dashboardToken: e.DASHBOARD_TOKEN,
    metricsPort: e.METRICS_PORT,
    eventDebounceMs: e.EVENT_DEBOUNCE_MS,
    eventsMaxBodyBytes: e.EVENTS_MAX_BODY_BYTES,
  };
}

/**
 * Whatever talks to Graph (the worker, `enqueue --dry-run`) needs an app identity. Checked where it
 * is needed, not for a plain enqueue. `purpose` ends the message: `to run a worker`.
 */
export function requireGraphCredentials(config: Config, purpose = 'to run a worker'): void {
  const missing = (name: string, why: string) => new UserError(ErrorCodes.CONFIG_INVALID, `${name}: ${why}`);
  if (!config.clientId) throw missing('AZURE_CLIENT_ID', `is required ${purpose}`);
  if (!config.clientSecret && !config.clientCertificatePath) {
    throw missing('AZURE_CLIENT_SECRET', `or AZURE_CLIENT_CERTIFICATE_PATH is required ${purpose}`);
  }
}

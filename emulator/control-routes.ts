import { z } from 'zod';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import type { EmulatorContext } from './emulator-context.js';
import { checkFaultRates } from './fault-plan.js';
import { readGraphBody, sendGraphError } from './graph-error.js';
import type { HttpExchange } from './http-exchange.js';
import { checkRequestFaultRates } from './request-fault-plan.js';
import type { FaultRates, RequestFaultRates } from './emulator-options.js';
import { checkThrottleSpec, THROTTLE_MODELS, THROTTLE_SIGNALS, type ThrottleSpec } from './throttle-model.js';
import { TOKEN_FAILURE_MODES, type TokenFailureMode } from './token-service.js';

/**
 * The control API under `/_emulator`: how a test in another process reads the truth and the
 * counters, flips behaviour, and seeds state. No authentication: the emulator listens on loopback by
 * default and exists to be driven. Seeding bypasses limits and faults because it stands for state
 * that existed before the client under test started.
 */

const rate = z.number().min(0).max(1);
const requestFaultRatesBody = z.strictObject({
  serviceUnavailable: rate.optional(),
  serviceUnavailableNoRetryAfter: rate.optional(),
  internalError: rate.optional(),
  badGateway: rate.optional(),
  gatewayTimeout: rate.optional(),
  reset: rate.optional(),
});
const faultRatesBody = requestFaultRatesBody.extend({
  commitThenReset: rate.optional(),
  slowCommit: rate.optional(),
});
const throttleBody = z.union([
  z.null(),
  z.strictObject({
    model: z.enum(THROTTLE_MODELS),
    max: z.int().min(1),
    windowMs: z.int().min(1),
    signal: z.enum(THROTTLE_SIGNALS).optional(),
  }),
]);
const rateLimitBody = z.union([z.null(), z.strictObject({ max: z.int().min(1), windowMs: z.int().min(1) })]);
const tokenOutageBody = z.strictObject({ on: z.boolean() });
const tokenFailureBody = z.strictObject({ mode: z.enum(TOKEN_FAILURE_MODES).nullable() });
const configurationBody = z.strictObject({ id: z.string().optional(), displayName: z.string().min(1).optional() });
const assignmentBody = z.strictObject({ groupId: z.string() });
const groupBody = z.strictObject({ id: z.string().optional(), displayName: z.string().min(1) });
const readFailureBody = z.strictObject({ status: z.number().int().min(400).max(599).nullable() });

/** Handles a request under `/_emulator`; `reset` restores the state the emulator started with. */
export async function handleControlRequest(
  context: EmulatorContext,
  exchange: HttpExchange,
  reset: () => void,
): Promise<void> {
  const [, first, tenant, , configuration] = exchange.segments;
  // Ids in the path become placeholders so each route is one case below.
  const placeholders: Record<number, string> = first === 'tenants' ? { 1: '{tenantId}', 3: '{configurationId}' } : {};
  const path = exchange.segments
    .slice(1)
    .map((segment, index) => placeholders[index] ?? segment)
    .join('/');
  const route = `${exchange.method} ${path}`;
  switch (route) {
    case 'GET health':
      exchange.sendJson(200, { ok: true, origin: context.origin });
      return;
    case 'GET truth':
      exchange.sendJson(200, context.state.truth());
      return;
    case 'GET stats':
      sendStats(context, exchange);
      return;
    case 'GET settings':
      exchange.sendJson(200, currentSettings(context));
      return;
    case 'PUT faults': {
      const body = await readBody(exchange, faultRatesBody);
      if (body === undefined) return;
      try {
        context.faultPlan.setRates(checkFaultRates(body));
      } catch (error) {
        sendGraphError(exchange, 400, 'BadRequest', (error as Error).message);
        return;
      }
      exchange.sendJson(200, context.faultPlan.currentRates());
      return;
    }
    case 'PUT rate-limit': {
      const body = await readBody(exchange, rateLimitBody);
      if (body === undefined) return;
      context.throttles.setGlobal(body ? { model: 'sliding-writes', ...body, signal: '429' } : undefined);
      exchange.sendJson(200, context.throttles.currentRateLimit() ?? null);
      return;
    }
    case 'PUT throttle': {
      const body = await readBody(exchange, throttleBody);
      if (body === undefined) return;
      context.throttles.setGlobal(body ? checkThrottleSpec(body, 'throttle') : undefined);
      exchange.sendJson(200, context.throttles.globalSpec() ?? null);
      return;
    }
    case 'PUT tenants/{tenantId}/throttle': {
      const tenantId = objectId(exchange, 'tenant id', tenant);
      if (!tenantId) return;
      const body = await readBody(exchange, throttleBody);
      if (body === undefined) return;
      const spec = body ? checkThrottleSpec(body, 'throttle') : undefined;
      context.throttles.setTenant(tenantId, spec);
      exchange.sendJson(200, { tenantId, throttle: spec ?? null });
      return;
    }
    case 'PUT read-faults':
    case 'PUT token-faults': {
      const body = await readBody(exchange, requestFaultRatesBody);
      if (body === undefined) return;
      const reads = route === 'PUT read-faults';
      try {
        const rates = checkRequestFaultRates(body, reads ? 'read fault' : 'token fault');
        (reads ? context.readFaultPlan : context.tokenFaultPlan).setRates(rates);
        exchange.sendJson(200, rates);
      } catch (error) {
        sendGraphError(exchange, 400, 'BadRequest', (error as Error).message);
      }
      return;
    }
    case 'PUT token-outage': {
      const body = await readBody(exchange, tokenOutageBody);
      if (body === undefined) return;
      context.settings.tokenOutage = body.on;
      exchange.sendJson(200, { on: body.on });
      return;
    }
    case 'PUT token-failure': {
      const body = await readBody(exchange, tokenFailureBody);
      if (body === undefined) return;
      context.tokens.failure = body.mode;
      exchange.sendJson(200, { mode: body.mode });
      return;
    }
    case 'POST reset':
      reset();
      // The token service outlives a reset (issued tokens stay valid); its failure mode does not.
      context.tokens.failure = null;
      exchange.sendJson(200, { reset: true });
      return;
    case 'POST tenants/{tenantId}/configurations': {
      const tenantId = objectId(exchange, 'tenant id', tenant);
      const body = tenantId && (await readBody(exchange, configurationBody));
      if (!tenantId || !body) return;
      const configurationId = body.id === undefined ? undefined : objectId(exchange, 'configuration id', body.id);
      if (body.id !== undefined && !configurationId) return;
      const fields: { id?: string; displayName?: string } = {};
      if (configurationId) fields.id = configurationId;
      if (body.displayName !== undefined) fields.displayName = body.displayName;
      const result = context.state.putConfiguration(tenantId, fields);
      exchange.sendJson(result.created ? 201 : 200, result.configuration);
      return;
    }
    case 'POST tenants/{tenantId}/configurations/{configurationId}/assignments': {
      const tenantId = objectId(exchange, 'tenant id', tenant);
      const configurationId = tenantId && objectId(exchange, 'configuration id', configuration);
      const body = configurationId && (await readBody(exchange, assignmentBody));
      if (!tenantId || !configurationId || !body) return;
      const groupId = objectId(exchange, 'group id', body.groupId);
      if (!groupId) return;
      const assignment = context.state.addAssignment(tenantId, configurationId, groupId);
      exchange.sendJson(201, { id: assignment.id, tenantId, configurationId, groupId });
      return;
    }
    case 'POST tenants/{tenantId}/groups': {
      const tenantId = objectId(exchange, 'tenant id', tenant);
      const body = tenantId && (await readBody(exchange, groupBody));
      if (!tenantId || !body) return;
      const groupId = body.id === undefined ? undefined : objectId(exchange, 'group id', body.id);
      if (body.id !== undefined && !groupId) return;
      const existed = groupId !== undefined && context.state.findGroup(tenantId, groupId) !== undefined;
      const group = context.state.putGroup(tenantId, { id: groupId, displayName: body.displayName });
      exchange.sendJson(existed ? 200 : 201, group);
      return;
    }
    case 'PUT tenants/{tenantId}/configurations/{configurationId}/read-failure': {
      const tenantId = objectId(exchange, 'tenant id', tenant);
      const configurationId = tenantId && objectId(exchange, 'configuration id', configuration);
      const body = configurationId && (await readBody(exchange, readFailureBody));
      if (!tenantId || !configurationId || !body) return;
      context.state.setReadFailure(tenantId, configurationId, body.status);
      exchange.sendJson(200, { tenantId, configurationId, status: body.status });
      return;
    }
    default:
      sendGraphError(exchange, 404, 'ResourceNotFound', `No control route ${route}. See emulator/control-routes.ts.`);
  }
}

function sendStats(context: EmulatorContext, exchange: HttpExchange): void {
  const text = exchange.url.searchParams.get('windowMs');
  if (text === null) {
    exchange.sendJson(200, context.stats.snapshot());
    return;
  }
  const windowMs = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(windowMs >= 1)) {
    sendGraphError(exchange, 400, 'BadRequest', `windowMs must be a positive integer, got '${text}'.`);
    return;
  }
  exchange.sendJson(200, context.stats.snapshot(windowMs));
}

/** `GET /_emulator/settings`: the behaviour in force (the client secret itself is never shown). */
export type EmulatorSettings = Omit<EmulatorContext['settings'], 'clientSecret'> & {
  clientSecretRequired: boolean;
  faults: Required<FaultRates>;
  rateLimit: { max: number; windowMs: number } | null;
  throttle: Required<ThrottleSpec> | null;
  tenantThrottle: Record<string, Required<ThrottleSpec>>;
  readFaults: Required<RequestFaultRates>;
  tokenFaults: Required<RequestFaultRates>;
  tokenFailure: TokenFailureMode | null;
  /** false in the lenient mode, where any configuration id exists. */
  strictConfigurations: boolean;
};

function currentSettings(context: EmulatorContext): EmulatorSettings {
  const { clientSecret, ...visible } = context.settings;
  return {
    ...visible,
    clientSecretRequired: clientSecret !== undefined,
    faults: context.faultPlan.currentRates(),
    rateLimit: context.throttles.currentRateLimit() ?? null,
    throttle: context.throttles.globalSpec() ?? null,
    tenantThrottle: context.throttles.tenantSpecs(),
    readFaults: context.readFaultPlan.currentRates(),
    tokenFaults: context.tokenFaultPlan.currentRates(),
    tokenFailure: context.tokens.failure,
    strictConfigurations: context.state.strictConfigurations,
  };
}

/** The canonical id, or undefined after answering 400. */
function objectId(exchange: HttpExchange, what: string, value: string | undefined): string | undefined {
  if (value !== undefined && isObjectId(value)) return normalizeObjectId(value);
  sendGraphError(exchange, 400, 'BadRequest', `The ${what} must be a GUID, got '${value ?? ''}'.`);
  return undefined;
}

/** The parsed body, or undefined after answering 400/413. */
async function readBody<T>(exchange: HttpExchange, schema: z.ZodType<T>): Promise<T | undefined> {
  const text = await readGraphBody(exchange);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text === '' ? 'null' : text);
  } catch {
    sendGraphError(exchange, 400, 'BadRequest', 'The body is not valid JSON.');
    return undefined;
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    sendGraphError(exchange, 400, 'BadRequest', z.prettifyError(result.error));
    return undefined;
  }
  return result.data;
}

import { setTimeout as delay } from 'node:timers/promises';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { scheduleCommit, type EmulatorContext } from './emulator-context.js';
import type { RequestFaultKind } from './emulator-options.js';
import type { Assignment, Configuration } from './emulator-state.js';
import { readGraphBody, sendGraphError } from './graph-error.js';
import type { HttpExchange } from './http-exchange.js';
import { formatRetryAfter } from './retry-after.js';
import { throttleAnswer } from './throttle-answer.js';
import type { RequestKind } from './throttle-model.js';
import type { TokenRefusal } from './token-service.js';

/**
 * Graph beta, the part this project touches: Office client configurations and their assignments,
 * and reading a group (event rules may match on its display name). The bearer token decides the
 * tenant, as in real Graph. Every request passes the tenant's throttle (most models count writes
 * only); GETs roll the read fault die, assignment POSTs the POST fault die. Route order inside a
 * request follows what a client can observe from Graph: authentication, then the path, then the
 * body, then throttling.
 */

const ASSIGNMENT_TYPE = '#microsoft.graph.officeClientConfigurationAssignment';
const GROUP_TARGET_TYPE = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';
const CONFIGURATION_TYPE = '#microsoft.graph.windowsOfficeClientConfiguration';
/** Graph's usual cap on a page, whatever $top asks. */
const MAX_TOP = 999;
/** Query options Graph would apply but the emulator does not; refused rather than silently ignored. */
const UNSUPPORTED_QUERY_OPTIONS = ['$filter', '$orderby', '$search', '$expand'];

const REFUSAL_MESSAGES: Record<TokenRefusal, string> = {
  missing: 'Access token is empty.',
  malformed: 'Access token validation failure. The Authorization header must be "Bearer <token>".',
  unknown: 'Access token validation failure. Invalid audience or unknown token.',
  expired: 'Lifetime validation failed, the token is expired.',
};

/** Handles a request under `/beta`. */
export async function handleGraphRequest(context: EmulatorContext, exchange: HttpExchange): Promise<void> {
  const token = context.tokens.check(exchange.req.headers.authorization);
  // When the request arrived, not when the added latency lets it through, is what a Retry-After binds.
  if (token.ok) context.stats.requestArrived(token.tenantId, exchange.method === 'GET' ? 'read' : 'write');
  if (context.settings.latencyMs > 0) await delay(context.settings.latencyMs);

  if (!token.ok) {
    context.stats.unauthorizedRequest();
    sendGraphError(exchange, 401, 'InvalidAuthenticationToken', REFUSAL_MESSAGES[token.refusal], {
      'www-authenticate': `Bearer realm="", authorization_uri="${context.origin}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
    });
    return;
  }
  const tenantId = token.tenantId;
  if (exchange.segments[1] === 'groups') {
    await routeGroups(context, exchange, tenantId);
    return;
  }
  const [, area, collection, configurationId, child, assignmentId, ...extra] = exchange.segments;

  if (area !== 'officeConfiguration' || collection !== 'clientConfigurations' || extra.length > 0) {
    const segment =
      area !== 'officeConfiguration' ? area : collection !== 'clientConfigurations' ? collection : extra[0];
    sendGraphError(exchange, 400, 'BadRequest', `Resource not found for the segment '${segment ?? ''}'.`);
    return;
  }
  if (!checkQueryOptions(exchange)) return;
  if (configurationId === undefined) {
    await routeMethod(exchange, {
      GET: () => listConfigurations(context, exchange, tenantId),
      POST: () => createConfiguration(context, exchange, tenantId),
    });
    return;
  }
  if (!isObjectId(configurationId)) {
    sendGraphError(
      exchange,
      400,
      'BadRequest',
      `Invalid key '${configurationId}': the configuration id must be a GUID.`,
    );
    return;
  }
  const configId = normalizeObjectId(configurationId);
  if (child === undefined) {
    await routeMethod(exchange, { GET: () => getConfiguration(context, exchange, tenantId, configId) });
    return;
  }
  if (child !== 'assignments') {
    sendGraphError(exchange, 400, 'BadRequest', `Resource not found for the segment '${child}'.`);
    return;
  }
  if (assignmentId === undefined) {
    await routeMethod(exchange, {
      GET: () => listAssignments(context, exchange, tenantId, configId),
      POST: () => createAssignment(context, exchange, tenantId, configId),
    });
    return;
  }
  await routeMethod(exchange, {
    GET: () => getAssignment(context, exchange, tenantId, configId, assignmentId),
    DELETE: () => deleteAssignment(context, exchange, tenantId, configId, assignmentId),
  });
}

/** `/groups/{id}`, GET only: groups are created through the control API, never by clients. */
async function routeGroups(context: EmulatorContext, exchange: HttpExchange, tenantId: string): Promise<void> {
  const [, , groupId, ...extra] = exchange.segments;
  if (groupId === undefined) {
    sendGraphError(exchange, 400, 'BadRequest', 'The emulator does not list groups; read one with GET /groups/{id}.');
    return;
  }
  if (extra.length > 0) {
    sendGraphError(exchange, 400, 'BadRequest', `Resource not found for the segment '${extra[0] ?? ''}'.`);
    return;
  }
  if (!checkQueryOptions(exchange)) return;
  if (!isObjectId(groupId)) {
    sendGraphError(exchange, 400, 'BadRequest', `Invalid object identifier '${groupId}'.`);
    return;
  }
  await routeMethod(exchange, { GET: () => getGroup(context, exchange, tenantId, normalizeObjectId(groupId)) });
}

function getGroup(context: EmulatorContext, exchange: HttpExchange, tenantId: string, groupId: string): void {
  if (!admitRead(context, exchange, tenantId)) return;
  const group = context.state.findGroup(tenantId, groupId);
  if (!group) {
    // Graph's directory wording; strict or not, a group nobody created does not exist.
    sendGraphError(
      exchange,
      404,
      'ResourceNotFound',
      `Resource '${groupId}' does not exist or one of its queried reference-property objects are not present.`,
    );
    return;
  }
  exchange.sendJson(200, {
    '@odata.context': `${publicBase(context, exchange)}/beta/$metadata#groups/$entity`,
    id: group.id,
    displayName: group.displayName,
    createdDateTime: group.createdDateTime,
    mailEnabled: false,
    securityEnabled: true,
    groupTypes: [],
  });
}

function listConfigurations(context: EmulatorContext, exchange: HttpExchange, tenantId: string): void {
  if (!admitRead(context, exchange, tenantId)) return;
  const base = publicBase(context, exchange);
  exchange.sendJson(200, {
    '@odata.context': `${base}/beta/$metadata#officeConfiguration/clientConfigurations`,
    value: context.state
      .listConfigurations(tenantId)
      .map((configuration, index) => configurationJson(configuration, index)),
  });
}

function getConfiguration(
  context: EmulatorContext,
  exchange: HttpExchange,
  tenantId: string,
  configurationId: string,
): void {
  if (!admitRead(context, exchange, tenantId)) return;
  const configuration = context.state.findConfiguration(tenantId, configurationId);
  if (!configuration) {
    sendConfigurationNotFound(exchange, configurationId);
    return;
  }
  const index = context.state.listConfigurations(tenantId).indexOf(configuration);
  exchange.sendJson(200, configurationJson(configuration, index));
}

async function createConfiguration(context: EmulatorContext, exchange: HttpExchange, tenantId: string): Promise<void> {
  const body = await readJsonObject(exchange);
  if (!body) return;
  const displayName = body.displayName;
  if (typeof displayName !== 'string' || displayName.trim() === '') {
    sendGraphError(
      exchange,
      400,
      'BadRequest',
      "The property 'displayName' is required and must be a non-empty string.",
    );
    return;
  }
  if (!admitWrite(context, exchange, tenantId)) return;
  const { configuration } = context.state.putConfiguration(tenantId, { displayName });
  acceptWrite(context, tenantId);
  const index = context.state.listConfigurations(tenantId).indexOf(configuration);
  exchange.sendJson(201, configurationJson(configuration, index), {
    location: `${publicBase(context, exchange)}/beta/officeConfiguration/clientConfigurations/${configuration.id}`,
  });
}

function listAssignments(
  context: EmulatorContext,
  exchange: HttpExchange,
  tenantId: string,
  configurationId: string,
): void {
  if (!admitRead(context, exchange, tenantId)) return;
  const params = exchange.url.searchParams;
  let top = context.settings.pageSize;
  const topText = params.get('$top');
  if (topText !== null) {
    const parsed = /^\d+$/.test(topText) ? Number(topText) : NaN;
    if (!(parsed >= 1)) {
      sendGraphError(exchange, 400, 'BadRequest', `Invalid value '${topText}' for $top: expected a positive integer.`);
      return;
    }
    top = Math.min(parsed, MAX_TOP);
  }
  let afterSeq = 0;
  const skipToken = params.get('$skiptoken');
  if (skipToken !== null) {
    const parsed = parseSkipToken(skipToken);
    if (parsed === undefined) {
      sendGraphError(exchange, 400, 'BadRequest', 'Invalid $skiptoken.');
      return;
    }
    afterSeq = parsed;
  }
  if (!context.state.findConfiguration(tenantId, configurationId)) {
    sendConfigurationNotFound(exchange, configurationId);
    return;
  }
  const failure = context.state.readFailure(tenantId, configurationId);
  if (failure !== undefined) {
    sendGraphError(
      exchange,
      failure,
      failure === 503 ? 'ServiceUnavailable' : failure >= 500 ? 'InternalServerError' : 'BadRequest',
      'Reading this configuration fails (emulator control: read-failure).',
    );
    return;
  }
  const { page, more } = context.state.listAssignments(tenantId, configurationId, afterSeq, top);
  const base = publicBase(context, exchange);
  const collection = `${base}/beta/officeConfiguration/clientConfigurations/${configurationId}/assignments`;
  const body: Record<string, unknown> = {
    '@odata.context': `${base}/beta/$metadata#officeConfiguration/clientConfigurations('${configurationId}')/assignments`,
    value: page.map(assignmentJson),
  };
  const last = page[page.length - 1];
  if (more && last) {
    const next = new URL(collection);
    if (topText !== null) next.searchParams.set('$top', String(top));
    next.searchParams.set('$skiptoken', formatSkipToken(last.seq));
    body['@odata.nextLink'] = next.toString();
  }
  exchange.sendJson(200, body);
}

function getAssignment(
  context: EmulatorContext,
  exchange: HttpExchange,
  tenantId: string,
  configurationId: string,
  assignmentId: string,
): void {
  if (!admitRead(context, exchange, tenantId)) return;
  const assignment = context.state.getAssignment(tenantId, configurationId, assignmentId.toLowerCase());
  if (!assignment) {
    sendAssignmentNotFound(exchange, assignmentId);
    return;
  }
  exchange.sendJson(200, assignmentJson(assignment));
}

function deleteAssignment(
  context: EmulatorContext,
  exchange: HttpExchange,
  tenantId: string,
  configurationId: string,
  assignmentId: string,
): void {
  if (!admitWrite(context, exchange, tenantId)) return;
  if (!context.state.deleteAssignment(tenantId, configurationId, assignmentId.toLowerCase())) {
    sendAssignmentNotFound(exchange, assignmentId);
    return;
  }
  acceptWrite(context, tenantId);
  exchange.sendEmpty(204);
}

/** The seed endpoint: one POST, one assignment, duplicates allowed, faults possible. */
async function createAssignment(
  context: EmulatorContext,
  exchange: HttpExchange,
  tenantId: string,
  configurationId: string,
): Promise<void> {
  const body = await readJsonObject(exchange);
  if (!body) return;
  const groupId = readGroupTarget(exchange, body);
  if (groupId === undefined) return;
  if (!context.state.findConfiguration(tenantId, configurationId)) {
    sendConfigurationNotFound(exchange, configurationId);
    return;
  }
  if (!admitWrite(context, exchange, tenantId)) return;

  const commit = (): Assignment => context.state.addAssignment(tenantId, configurationId, groupId);
  const fault = context.faultPlan.decide();
  if (fault) context.stats.fault(tenantId, fault);
  switch (fault) {
    case 'commitThenReset':
      commit();
      acceptWrite(context, tenantId);
      exchange.destroyConnection();
      return;
    case 'slowCommit':
      // The slot is taken now, when Graph took the request on; the row appears later.
      acceptWrite(context, tenantId);
      scheduleCommit(context, context.settings.slowCommitMs, commit);
      sendGraphError(exchange, 504, 'GatewayTimeout', 'The operation timed out. It may complete later.');
      return;
    case 'serviceUnavailable':
    case 'serviceUnavailableNoRetryAfter':
    case 'internalError':
    case 'badGateway':
    case 'gatewayTimeout':
    case 'reset':
      // Refused before the commit, exactly as on a read: nothing is created and no slot is taken.
      sendRequestFault(context, exchange, fault);
      return;
    case undefined: {
      const assignment = commit();
      acceptWrite(context, tenantId);
      const base = publicBase(context, exchange);
      exchange.sendJson(
        201,
        {
          '@odata.context': `${base}/beta/$metadata#officeConfiguration/clientConfigurations('${configurationId}')/assignments/$entity`,
          ...assignmentJson(assignment),
        },
        {
          location: `${base}/beta/officeConfiguration/clientConfigurations/${configurationId}/assignments/${assignment.id}`,
        },
      );
      return;
    }
  }
}

/** The group id of a valid assignment body, or undefined after answering 400. */
function readGroupTarget(exchange: HttpExchange, body: Record<string, unknown>): string | undefined {
  const type = body['@odata.type'];
  if (type !== undefined && type !== ASSIGNMENT_TYPE) {
    sendGraphError(
      exchange,
      400,
      'BadRequest',
      `Invalid @odata.type '${String(type)}': expected '${ASSIGNMENT_TYPE}'.`,
    );
    return undefined;
  }
  const target = body.target;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    sendGraphError(exchange, 400, 'BadRequest', "The property 'target' is required and must be an object.");
    return undefined;
  }
  const fields = target as Record<string, unknown>;
  if (fields['@odata.type'] !== GROUP_TARGET_TYPE) {
    sendGraphError(exchange, 400, 'BadRequest', `The target's @odata.type must be '${GROUP_TARGET_TYPE}'.`);
    return undefined;
  }
  const groupId = fields.groupId;
  if (typeof groupId !== 'string' || !isObjectId(groupId)) {
    sendGraphError(exchange, 400, 'BadRequest', "The property 'target.groupId' is required and must be a GUID.");
    return undefined;
  }
  return normalizeObjectId(groupId);
}

/** A JSON object body, or undefined after answering 400/413/415. */
async function readJsonObject(exchange: HttpExchange): Promise<Record<string, unknown> | undefined> {
  const contentType = exchange.req.headers['content-type'];
  // A missing type is let through (many clients omit it on small bodies); a wrong one is not.
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
    sendGraphError(
      exchange,
      415,
      'UnsupportedMediaType',
      `Content-Type '${contentType}' is not supported; use application/json.`,
    );
    return undefined;
  }
  const text = await readGraphBody(exchange);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    sendGraphError(
      exchange,
      400,
      'BadRequest',
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    );
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    sendGraphError(exchange, 400, 'BadRequest', 'The request body must be a JSON object.');
    return undefined;
  }
  return parsed as Record<string, unknown>;
}

/** False after answering 429 (or the throttle's signal) when the tenant's throttle says wait; no budget is taken. */
function admitWrite(context: EmulatorContext, exchange: HttpExchange, tenantId: string): boolean {
  return !throttle(context, exchange, tenantId, 'write');
}

/**
 * A GET's way in: the throttle (only `token-bucket` counts reads), then the read fault die; a read
 * that passes both takes budget and counts in `reads`. False after answering.
 */
function admitRead(context: EmulatorContext, exchange: HttpExchange, tenantId: string): boolean {
  if (throttle(context, exchange, tenantId, 'read')) return false;
  const fault = context.readFaultPlan.decide();
  if (fault) {
    context.stats.readFault(tenantId, fault);
    sendRequestFault(context, exchange, fault);
    return false;
  }
  context.throttles.record(tenantId, 'read');
  context.stats.read(tenantId);
  return true;
}

/** True after answering when the tenant's throttle refuses the request. */
function throttle(context: EmulatorContext, exchange: HttpExchange, tenantId: string, kind: RequestKind): boolean {
  const verdict = context.throttles.check(tenantId, kind);
  if (!verdict) return false;
  context.stats.throttled(tenantId, verdict.spec.model);
  const answer = throttleAnswer(verdict, context.settings.retryAfterFormat);
  const message =
    answer.status === 503
      ? 'The service is temporarily unavailable. Please retry after the time given in the Retry-After header.'
      : 'Too many requests. Please retry after the time given in the Retry-After header.';
  sendGraphError(exchange, answer.status, answer.code, message, answer.headers);
  if (answer.retryAfterMs !== undefined) {
    context.stats.retryAfterGiven(tenantId, answer.retryAfterMs, verdict.countedKinds);
  }
  return true;
}

/** Answers a fault that did nothing: any fault of a GET, and the non-committing faults of a POST. */
function sendRequestFault(context: EmulatorContext, exchange: HttpExchange, fault: RequestFaultKind): void {
  switch (fault) {
    case 'serviceUnavailable':
    case 'serviceUnavailableNoRetryAfter':
      sendGraphError(
        exchange,
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable. Please retry later.',
        fault === 'serviceUnavailable' ? retryAfterHeader(context, context.settings.faultRetryAfterMs) : {},
      );
      return;
    case 'internalError':
      sendGraphError(exchange, 500, 'InternalServerError', 'An internal server error occurred.');
      return;
    case 'badGateway':
      sendGraphError(exchange, 502, 'BadGateway', 'The gateway received an invalid response.');
      return;
    case 'gatewayTimeout':
      sendGraphError(exchange, 504, 'GatewayTimeout', 'The operation timed out.');
      return;
    case 'reset':
      exchange.destroyConnection();
      return;
  }
}

function acceptWrite(context: EmulatorContext, tenantId: string): void {
  context.throttles.record(tenantId, 'write');
  context.stats.writeAccepted(tenantId);
}

function retryAfterHeader(context: EmulatorContext, waitMs: number): Record<string, string> {
  const value = formatRetryAfter(waitMs, context.settings.retryAfterFormat);
  return value === undefined ? {} : { 'retry-after': value };
}

async function routeMethod(
  exchange: HttpExchange,
  handlers: Partial<Record<string, () => void | Promise<void>>>,
): Promise<void> {
  const handler = handlers[exchange.method];
  if (handler) {
    await handler();
    return;
  }
  const allowed = Object.keys(handlers).join(', ');
  sendGraphError(
    exchange,
    405,
    'MethodNotAllowed',
    `The method '${exchange.method}' is not allowed here; allowed: ${allowed}.`,
    { allow: allowed },
  );
}

function checkQueryOptions(exchange: HttpExchange): boolean {
  const unsupported = UNSUPPORTED_QUERY_OPTIONS.find((option) => exchange.url.searchParams.has(option));
  if (unsupported === undefined) return true;
  sendGraphError(exchange, 400, 'BadRequest', `The query option '${unsupported}' is not supported by the emulator.`);
  return false;
}

function sendConfigurationNotFound(exchange: HttpExchange, configurationId: string): void {
  sendGraphError(
    exchange,
    404,
    'ResourceNotFound',
    `The officeClientConfiguration '${configurationId}' was not found.`,
  );
}

function sendAssignmentNotFound(exchange: HttpExchange, assignmentId: string): void {
  sendGraphError(
    exchange,
    404,
    'ResourceNotFound',
    `The officeClientConfigurationAssignment '${assignmentId}' was not found.`,
  );
}

function publicBase(context: EmulatorContext, exchange: HttpExchange): string {
  return exchange.publicOrigin(context.origin);
}

function formatSkipToken(seq: number): string {
  return Buffer.from(`seq:${seq}`, 'utf8').toString('base64url');
}

function parseSkipToken(token: string): number | undefined {
  const match = /^seq:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function assignmentJson(assignment: Assignment): Record<string, unknown> {
  return {
    '@odata.type': ASSIGNMENT_TYPE,
    id: assignment.id,
    target: { '@odata.type': GROUP_TARGET_TYPE, groupId: assignment.groupId },
  };
}

function configurationJson(configuration: Configuration, index: number): Record<string, unknown> {
  return {
    '@odata.type': CONFIGURATION_TYPE,
    id: configuration.id,
    displayName: configuration.displayName,
    description: null,
    priority: Math.max(0, index),
    lastModifiedDateTime: configuration.createdDateTime,
  };
}

import { randomUUID } from 'node:crypto';
import type { Got } from 'got';
import type { TokenProvider } from './token-provider.js';
import type { Assignment } from './assignment.js';
import type { AssignmentKind } from './assignment-kind.js';
import { classifyResponse, classifyTransportError } from './failure-classification.js';
import { GraphFailure, GraphFailureCodes } from './graph-failure.js';

// The calls return it: callers that know this module need not know where the model lives.

/** A directory group as far as event rules read one. */
export interface GroupInfo {
  id: string;
  /** Null when Graph has none for the group. */
  displayName: string | null;
}

/** What every call returns besides its value: Graph's ids for support, and the status. */
export interface CallInfo {
  httpStatus: number;
  requestId?: string;
  clientRequestId: string;
  /** When the request had been handed to the network (got's timings.upload). */
  uploadedAt?: number;
}

export interface CallOptions {
  /** Sent as `client-request-id`; a fresh GUID if absent. */
  clientRequestId?: string;
}

/**
 * The assignment endpoints of one assignment kind (where they are, what a POST sends and how an
 * answer reads are the kind's). One request per call, no retries: the caller admits every request
 * through the tenant's lane and owns the retry policy. Failures are thrown as GraphFailure.
 */
export class AssignmentsApi {
  private readonly origin: string;

  constructor(
    private readonly http: Got,
    private readonly tokens: TokenProvider,
    private readonly graphBaseUrl: string,
    /** Also what the pipeline asks what "assigned" means, so the calls and that answer cannot disagree. */
    readonly kind: AssignmentKind,
  ) {
    this.origin = new URL(graphBaseUrl).origin;
  }

  /**
   * Makes sure a token for the tenant is at hand (from MSAL's cache, or fetched now), so the
   * request that follows a lane's grant leaves at once: a token fetch between grant and send would
   * let it arrive after requests granted later, and Graph would see them bunched. Throws GraphFailure.
   */
  async prepare(tenantId: string, refreshToken = false): Promise<void> {
    await this.tokens.token(tenantId, refreshToken);
  }

  /** POST to the configuration's assignments: the configuration assigned to one group. */
  async create(
    tenantId: string,
    configurationId: string,
    groupId: string,
    options: CallOptions = {},
  ): Promise<{ assignment: Assignment } & CallInfo> {
    const res = await this.send(
      'POST',
      tenantId,
      this.collectionUrl(configurationId),
      options,
      this.kind.createBody(groupId),
    );
    return { assignment: this.kind.readAssignment(res.body), ...res.info };
  }

  /** One page of the configuration's assignments; pass the previous page's nextLink to go on. */
  async listPage(
    tenantId: string,
    configurationId: string,
    nextLink: string | undefined,
    options: CallOptions = {},
  ): Promise<{ assignments: Assignment[]; nextLink?: string } & CallInfo> {
    const url = nextLink ?? this.collectionUrl(configurationId);
    if (new URL(url).origin !== this.origin) {
      // The bearer token must never travel to another host, whatever a response says.
      throw new GraphFailure({
        kind: 'permanent',
        code: GraphFailureCodes.UNEXPECTED,
        ambiguous: false,
        message: 'nextLink points outside GRAPH_BASE_URL',
      });
    }
    const res = await this.send('GET', tenantId, url, options);
    const page = res.body as { value?: unknown; '@odata.nextLink'?: unknown };
    const assignments = Array.isArray(page?.value) ? page.value.map((value) => this.kind.readAssignment(value)) : [];
    const next = typeof page?.['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined;
    return { assignments, nextLink: next, ...res.info };
  }

  /** GET one assignment; null when Graph says it does not exist. */
  async get(
    tenantId: string,
    configurationId: string,
    assignmentId: string,
    options: CallOptions = {},
  ): Promise<{ assignment: Assignment | null } & CallInfo> {
    try {
      const res = await this.send('GET', tenantId, this.assignmentUrl(configurationId, assignmentId), options);
      return { assignment: this.kind.readAssignment(res.body), ...res.info };
    } catch (err) {
      if (err instanceof GraphFailure && err.httpStatus === 404) {
        return {
          assignment: null,
          httpStatus: 404,
          requestId: err.requestId,
          clientRequestId: options.clientRequestId ?? '',
          uploadedAt: err.uploadedAt,
        };
      }
      throw err;
    }
  }

  /**
   * GET /groups/{id}, for rules that match on the display name (needs Group.Read.All or
   * GroupMember.Read.All); null when Graph says the group does not exist.
   */
  async getGroup(
    tenantId: string,
    groupId: string,
    options: CallOptions = {},
  ): Promise<{ group: GroupInfo | null } & CallInfo> {
    // Chosen here so a 404 answer can report the id the request went out with.
    const clientRequestId = options.clientRequestId ?? randomUUID();
    // $select: a group's default representation is some thirty properties; two are read.
    const url = `${this.graphBaseUrl}/groups/${encodeURIComponent(groupId)}?$select=id,displayName`;
    try {
      const res = await this.send('GET', tenantId, url, { ...options, clientRequestId });
      return { group: toGroup(res.body, groupId), ...res.info };
    } catch (err) {
      if (err instanceof GraphFailure && err.httpStatus === 404) {
        return { group: null, httpStatus: 404, requestId: err.requestId, clientRequestId, uploadedAt: err.uploadedAt };
      }
      throw err;
    }
  }

  /** DELETE one assignment. */
  async delete(
    tenantId: string,
    configurationId: string,
    assignmentId: string,
    options: CallOptions = {},
  ): Promise<CallInfo> {
    const res = await this.send('DELETE', tenantId, this.assignmentUrl(configurationId, assignmentId), options);
    return res.info;
  }

  private collectionUrl(configurationId: string): string {
    return `${this.graphBaseUrl}${this.kind.collectionPath(configurationId)}`;
  }

  private assignmentUrl(configurationId: string, assignmentId: string): string {
    return `${this.graphBaseUrl}${this.kind.assignmentPath(configurationId, assignmentId)}`;
  }

  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    tenantId: string,
    url: string,
    options: CallOptions,
    json?: unknown,
  ): Promise<{ body: unknown; info: CallInfo }> {
    const clientRequestId = options.clientRequestId ?? randomUUID();
    // After prepare(), this is a cache hit (a refresh was done there, so it is not repeated here).
    const token = await this.tokens.token(tenantId, false);
    const isWrite = method !== 'GET';
    let response;
    try {
      response = await this.http(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'client-request-id': clientRequestId,
          'return-client-request-id': 'true',
          accept: 'application/json',
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: json !== undefined ? JSON.stringify(json) : undefined,
      });
    } catch (err) {
      const failure = classifyTransportError(err, isWrite);
      failure.uploadedAt = (err as { timings?: { upload?: number } }).timings?.upload;
      throw failure;
    }
    const uploadedAt = response.timings.upload ?? response.timings.start;
    let body: unknown;
    try {
      body = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      body = undefined;
    }
    const requestId = header(response.headers['request-id']);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return { body, info: { httpStatus: response.statusCode, requestId, clientRequestId, uploadedAt } };
    }
    const failure = classifyResponse(response.statusCode, body, response.headers, isWrite, Date.now());
    failure.uploadedAt = uploadedAt;
    throw failure;
  }
}

function toGroup(value: unknown, requestedId: string): GroupInfo {
  const v = (value ?? {}) as { id?: unknown; displayName?: unknown };
  return {
    id: (typeof v.id === 'string' ? v.id : requestedId).toLowerCase(),
    displayName: typeof v.displayName === 'string' ? v.displayName : null,
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

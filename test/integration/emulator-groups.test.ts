import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';
import { AssignmentsApi } from '../../lib/graph/assignments-api.js';
import { officeClientConfigurationKind } from '../../lib/graph/kinds/office-client-configuration.js';
import { createHttpClient } from '../../lib/graph/http-client.js';
import { msalNetworkClient } from '../../lib/graph/msal-network-client.js';
import { graphScopeFor, TokenProvider } from '../../lib/graph/token-provider.js';

/**
 * Groups in the emulator, which event rules read for their display-name condition: seeded through
 * the control API, read through Graph's GET /groups/{id} by raw HTTPS and by the real AssignmentsApi
 * (MSAL tokens included). Groups belong to a tenant and are gone after a reset.
 */

const TENANT = randomUUID();
const OTHER_TENANT = randomUUID();

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

const certDir = mkdtempSync(join(tmpdir(), 'emulator-groups-test-'));
let emulator: RunningEmulator;
let control: EmulatorControl;
let ca: string;
let tokens: TokenProvider;
let api: AssignmentsApi;

beforeAll(async () => {
  // Strict or not makes no difference to groups; the default (not strict) is the one that could.
  emulator = await startEmulator({ port: 0, certDir });
  ca = readFileSync(emulator.caCertPath, 'utf8');
  control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  const env = emulator.env(TENANT);
  // The production client, trusting the emulator's certificate directly: NODE_EXTRA_CA_CERTS is only
  // read when a process starts.
  const http = createHttpClient({ timeoutMs: 10_000, maxSockets: 4 }).extend({ https: { certificateAuthority: ca } });
  tokens = new TokenProvider(
    {
      clientId: env.AZURE_CLIENT_ID ?? '',
      clientSecret: env.AZURE_CLIENT_SECRET,
      authorityHost: emulator.authorityHost,
      scope: graphScopeFor(emulator.graphBaseUrl),
    },
    msalNetworkClient(http),
  );
  api = new AssignmentsApi(http, tokens, emulator.graphBaseUrl, officeClientConfigurationKind);
});

afterAll(async () => {
  await emulator?.close();
  rmSync(certDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await control.reset();
});

/** One GET to Graph as `tenant`, on a fresh connection. */
async function graphGet(path: string, tenant = TENANT, method = 'GET'): Promise<Answer> {
  const token = await tokens.token(tenant);
  return new Promise((resolveCall, rejectCall) => {
    const req = request(
      `${emulator.graphBaseUrl}${path}`,
      { method, headers: { authorization: `Bearer ${token}` }, ca, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', rejectCall);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolveCall({
            status: res.statusCode ?? 0,
            json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
          });
        });
      },
    );
    req.on('error', rejectCall);
    req.end();
  });
}

async function readsOf(tenant: string): Promise<number> {
  return (await control.stats()).tenants[tenant]?.reads ?? 0;
}

describe('the control API', () => {
  it('creates a group with a fresh id, or with the id given (lower-cased)', async () => {
    const made = await control.createGroup(TENANT, { displayName: 'SG-Sales-EMEA' });
    expect(made).toMatchObject({ displayName: 'SG-Sales-EMEA' });
    expect(made.id).toMatch(/^[0-9a-f-]{36}$/);
    const id = randomUUID();
    expect(await control.createGroup(TENANT, { id: id.toUpperCase(), displayName: 'SG-HR' })).toMatchObject({
      id,
      displayName: 'SG-HR',
    });
  });

  it('renames the group when its id is given again', async () => {
    const { id } = await control.createGroup(TENANT, { displayName: 'before' });
    await control.createGroup(TENANT, { id, displayName: 'after' });
    expect((await graphGet(`/groups/${id}`)).json).toMatchObject({ id, displayName: 'after' });
  });

  it('refuses a group without a display name, or with an id that is not a GUID', async () => {
    await expect(control.createGroup(TENANT, { displayName: '' })).rejects.toThrow(/answered 400/);
    await expect(control.createGroup(TENANT, { id: 'sales', displayName: 'x' })).rejects.toThrow(
      /answered 400.*group id must be a GUID/,
    );
  });
});

describe('GET /beta/groups/{id}', () => {
  it("answers a group of the token's tenant in Graph's shape, and counts a read", async () => {
    const { id } = await control.createGroup(TENANT, { displayName: 'SG-Sales-EMEA' });
    const answer = await graphGet(`/groups/${id.toUpperCase()}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      '@odata.context': `${emulator.graphBaseUrl}/$metadata#groups/$entity`,
      id,
      displayName: 'SG-Sales-EMEA',
      mailEnabled: false,
      securityEnabled: true,
      groupTypes: [],
    });
    expect(await readsOf(TENANT)).toBe(1);
  });

  it('answers 404 for a group nobody created, and for a group of another tenant', async () => {
    const { id } = await control.createGroup(OTHER_TENANT, { displayName: 'theirs' });
    for (const groupId of [randomUUID(), id]) {
      const answer = await graphGet(`/groups/${groupId}`);
      expect(answer.status).toBe(404);
      expect(answer.json).toMatchObject({
        error: { code: 'ResourceNotFound', message: expect.stringContaining(`Resource '${groupId}' does not exist`) },
      });
    }
    expect(await readsOf(TENANT)).toBe(2);
  });

  it('answers 400 for an id that is not a GUID, or a path below the group, without counting a read', async () => {
    expect(await graphGet('/groups/sales-team')).toMatchObject({
      status: 400,
      json: { error: { code: 'BadRequest', message: "Invalid object identifier 'sales-team'." } },
    });
    expect((await graphGet(`/groups/${randomUUID()}/members`)).status).toBe(400);
    expect((await graphGet('/groups')).status).toBe(400);
    expect(await readsOf(TENANT)).toBe(0);
  });

  it('answers 405 to anything but GET', async () => {
    const { id } = await control.createGroup(TENANT, { displayName: 'x' });
    expect(await graphGet(`/groups/${id}`, TENANT, 'DELETE')).toMatchObject({
      status: 405,
      json: { error: { code: 'MethodNotAllowed' } },
    });
  });

  it('forgets groups on reset', async () => {
    const { id } = await control.createGroup(TENANT, { displayName: 'x' });
    await control.reset();
    expect((await graphGet(`/groups/${id}`)).status).toBe(404);
  });
});

describe('AssignmentsApi.getGroup', () => {
  it('reads the id and display name of an existing group', async () => {
    const { id } = await control.createGroup(TENANT, { displayName: 'SG-Sales-EMEA' });
    const result = await api.getGroup(TENANT, id, { clientRequestId: 'e7a1c0de-0000-4000-8000-000000000001' });
    expect(result).toMatchObject({
      group: { id, displayName: 'SG-Sales-EMEA' },
      httpStatus: 200,
      clientRequestId: 'e7a1c0de-0000-4000-8000-000000000001',
    });
    expect(result.requestId).toEqual(expect.any(String));
  });

  it('answers null for a group Graph does not have, with the ids of the request', async () => {
    const result = await api.getGroup(TENANT, randomUUID());
    expect(result).toMatchObject({ group: null, httpStatus: 404 });
    expect(result.clientRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.requestId).toEqual(expect.any(String));
  });

  it('throws a permanent GraphFailure for an id Graph refuses', async () => {
    await expect(api.getGroup(TENANT, 'not-a-guid')).rejects.toMatchObject({
      name: 'GraphFailure',
      httpStatus: 400,
      kind: 'permanent',
    });
  });
});

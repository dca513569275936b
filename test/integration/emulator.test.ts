import { spawn } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';
import { httpsCall, type HttpsAnswer, type HttpsCallInit } from '../support/https-call.js';

/**
 * The emulator over real HTTPS: Entra ID's token endpoint (also through the real MSAL, in a child
 * process that trusts the certificate only through NODE_EXTRA_CA_CERTS), Graph's assignment routes,
 * throttling, every fault kind, and the control API that reports the truth.
 */

const SECRET = 'the-right-secret';
const TENANT = randomUUID();
const OTHER_TENANT = randomUUID();
const CLIENT = randomUUID();
const ASSIGNMENT_TYPE = '#microsoft.graph.officeClientConfigurationAssignment';
const GROUP_TARGET_TYPE = '#microsoft.graph.officeConfigurationGroupAssignmentTarget';

interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { date: string; 'request-id': string; 'client-request-id'?: string };
  };
}

interface AssignmentBody {
  id: string;
  target: { groupId: string };
}

interface ListBody {
  value: AssignmentBody[];
  '@odata.nextLink'?: string;
}

const certDir = mkdtempSync(join(tmpdir(), 'emulator-test-'));
let emulator: RunningEmulator;
let control: EmulatorControl;
let ca: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, certDir, pageSize: 2, slowCommitMs: 300, clientSecret: SECRET, seed: 1 });
  ca = readFileSync(emulator.caCertPath, 'utf8');
  control = new EmulatorControl(emulator.origin, emulator.caCertPath);
});

afterAll(async () => {
  await emulator?.close();
  rmSync(certDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await control.reset();
});

const call = (url: string, init?: HttpsCallInit): Promise<HttpsAnswer> => httpsCall(ca, url, init);

function requestToken(tenant: string, form: Record<string, string>): Promise<HttpsAnswer> {
  return call(`${emulator.origin}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

async function tokenFor(tenant: string): Promise<string> {
  const cached = tokens.get(tenant);
  if (cached) return cached;
  const answer = await requestToken(tenant, {
    grant_type: 'client_credentials',
    client_id: CLIENT,
    client_secret: SECRET,
    scope: 'https://graph.microsoft.com/.default',
  });
  expect(answer.status).toBe(200);
  const token = answer.json.access_token as string;
  tokens.set(tenant, token);
  return token;
}

function assignmentsUrl(configurationId: string): string {
  return `${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations/${configurationId}/assignments`;
}

async function graph(
  method: string,
  url: string,
  body?: unknown,
  tenant = TENANT,
  headers: Record<string, string> = {},
): Promise<HttpsAnswer> {
  const all: Record<string, string> = { authorization: `Bearer ${await tokenFor(tenant)}`, ...headers };
  if (body !== undefined) all['content-type'] = 'application/json';
  return call(url, {
    method,
    headers: all,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function assignmentBody(groupId: string): unknown {
  return { '@odata.type': ASSIGNMENT_TYPE, target: { '@odata.type': GROUP_TARGET_TYPE, groupId } };
}

function postAssignment(configurationId: string, groupId: string, tenant = TENANT): Promise<HttpsAnswer> {
  return graph('POST', assignmentsUrl(configurationId), assignmentBody(groupId), tenant);
}

/** A configuration of `tenant` created through the control API: configurations are strict by default. */
async function configuration(tenant = TENANT): Promise<string> {
  return (await control.createConfiguration(tenant)).id;
}

async function countOf(tenant: string, configurationId: string, groupId: string): Promise<number> {
  return (await control.truth()).tenants[tenant]?.[configurationId]?.[groupId] ?? 0;
}

/** Runs an ESM script in a fresh node with the emulator's environment; resolves with its stdout. */
function runNode(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', rejectRun);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

const MSAL_PRELUDE = `
import { ConfidentialClientApplication } from '@azure/msal-node';
const env = process.env;
const app = new ConfidentialClientApplication({
  auth: {
    clientId: env.AZURE_CLIENT_ID,
    clientSecret: env.AZURE_CLIENT_SECRET,
    authority: env.AZURE_AUTHORITY_HOST + '/' + env.AZURE_TENANT_ID,
    knownAuthorities: [new URL(env.AZURE_AUTHORITY_HOST).host],
  },
});
const scopes = ['https://graph.microsoft.com/.default'];
const attempt = async () => {
  try {
    const result = await app.acquireTokenByClientCredential({ scopes });
    return { ok: true, fromCache: result.fromCache, token: result.accessToken };
  } catch (error) {
    return { ok: false, errorCode: error.errorCode, subError: error.subError, message: String(error.errorMessage ?? error.message) };
  }
};
`;

describe('certificate', () => {
  it('names 127.0.0.1, ::1 and localhost, and is written where env() points', () => {
    const cert = new X509Certificate(ca);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect(emulator.env().NODE_EXTRA_CA_CERTS).toBe(emulator.caCertPath);
    expect(emulator.caCertPath.startsWith('/')).toBe(true);
  });

  it('is reused by the next emulator on the same directory', async () => {
    const before = statSync(emulator.caCertPath).mtimeMs;
    const second = await startEmulator({ port: 0, certDir });
    try {
      expect(readFileSync(second.caCertPath, 'utf8')).toBe(ca);
      expect(statSync(second.caCertPath).mtimeMs).toBe(before);
    } finally {
      await second.close();
    }
  });

  it('is generated once when emulators start together on an empty directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-cert-race-'));
    const started = await Promise.all([1, 2, 3].map(() => startEmulator({ port: 0, certDir: dir })));
    try {
      const pem = readFileSync(join(dir, 'emulator-cert.pem'), 'utf8');
      for (const running of started) {
        // Each server must present exactly the certificate on disk, or its clients would not trust it.
        const answer = await new Promise<number>((resolveCall, rejectCall) => {
          request(`${running.origin}/_emulator/health`, { ca: pem, agent: false }, (res) => {
            res.resume();
            resolveCall(res.statusCode ?? 0);
          })
            .on('error', rejectCall)
            .end();
        });
        expect(answer).toBe(200);
      }
    } finally {
      await Promise.all(started.map((running) => running.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Entra ID token endpoint', () => {
  it('serves the OpenID configuration MSAL needs, with an issuer on the same origin', async () => {
    const answer = await call(`${emulator.origin}/${TENANT}/v2.0/.well-known/openid-configuration`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      token_endpoint: `${emulator.origin}/${TENANT}/oauth2/v2.0/token`,
      authorization_endpoint: `${emulator.origin}/${TENANT}/oauth2/v2.0/authorize`,
      issuer: `${emulator.origin}/${TENANT}/v2.0`,
      jwks_uri: `${emulator.origin}/${TENANT}/discovery/v2.0/keys`,
    });
  });

  it('issues a bearer token for a client secret', async () => {
    const answer = await requestToken(TENANT, {
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    expect(typeof answer.json.access_token).toBe('string');
  });

  it('refuses another secret with invalid_client AADSTS7000215', async () => {
    const answer = await requestToken(TENANT, {
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: 'wrong',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_client');
    expect(answer.json.error_description).toMatch(/^AADSTS7000215: Invalid client secret provided/);
    expect(answer.json.error_codes).toEqual([7000215]);
  });

  it('accepts a client assertion (certificate credential) without checking its signature', async () => {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const assertion = `${part({ alg: 'PS256', typ: 'JWT', x5t: 'abc' })}.${part({ aud: 'x', iss: CLIENT, sub: CLIENT, exp: Math.floor(Date.now() / 1000) + 600 })}.c2lnbmF0dXJl`;
    const answer = await requestToken(TENANT, {
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(answer.status).toBe(200);
  });

  it('answers invalid_request for a tenant that is not a GUID, and invalid_scope without /.default', async () => {
    const form = {
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://graph.microsoft.com/.default',
    };
    const badTenant = await requestToken('contoso', form);
    expect(badTenant.status).toBe(400);
    expect(badTenant.json.error).toBe('invalid_request');
    const badScope = await requestToken(TENANT, { ...form, scope: 'User.Read' });
    expect(badScope.status).toBe(400);
    expect(badScope.json.error).toBe('invalid_scope');
  });

  it('answers 503 temporarily_unavailable during a token outage, and counts every request', async () => {
    const form = {
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://graph.microsoft.com/.default',
    };
    await control.setTokenOutage(true);
    const during = await requestToken(OTHER_TENANT, form);
    expect(during.status).toBe(503);
    expect(during.json.error).toBe('temporarily_unavailable');
    expect(during.headers['retry-after']).toBe('1');
    await control.setTokenOutage(false);
    expect((await requestToken(OTHER_TENANT, form)).status).toBe(200);
    const stats = await control.stats();
    expect(stats.tenants[OTHER_TENANT]).toMatchObject({ tokenRequests: 2, tokensIssued: 1 });
  });
});

describe('real MSAL 7 against the emulator', () => {
  it('acquires a token with a client secret, caches it, and the token creates an assignment', async () => {
    const configurationId = await configuration();
    const groupId = randomUUID();
    const script = `${MSAL_PRELUDE}
const first = await attempt();
const second = await attempt();
const res = await fetch(env.GRAPH_BASE_URL + '/officeConfiguration/clientConfigurations/' + env.CONFIGURATION_ID + '/assignments', {
  method: 'POST',
  headers: { authorization: 'Bearer ' + first.token, 'content-type': 'application/json', 'client-request-id': env.CLIENT_REQUEST_ID },
  body: JSON.stringify({ '@odata.type': '${ASSIGNMENT_TYPE}', target: { '@odata.type': '${GROUP_TARGET_TYPE}', groupId: env.GROUP_ID } }),
});
console.log(JSON.stringify({ first: { ok: first.ok, fromCache: first.fromCache }, second: { ok: second.ok, fromCache: second.fromCache }, status: res.status, echoed: res.headers.get('client-request-id'), body: await res.json() }));
`;
    const clientRequestId = randomUUID();
    const run = await runNode(script, {
      ...emulator.env(TENANT),
      CONFIGURATION_ID: configurationId,
      GROUP_ID: groupId,
      CLIENT_REQUEST_ID: clientRequestId,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      first: unknown;
      second: unknown;
      status: number;
      echoed: string;
      body: AssignmentBody;
    };
    expect(result.first).toEqual({ ok: true, fromCache: false });
    expect(result.second).toEqual({ ok: true, fromCache: true });
    expect(result.status).toBe(201);
    expect(result.echoed).toBe(clientRequestId);
    expect(result.body.target.groupId).toBe(groupId);
    expect(await countOf(TENANT, configurationId, groupId)).toBe(1);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({
      tokenRequests: 1,
      tokensIssued: 1,
      writesAccepted: 1,
    });
  });

  it('works when the authority is localhost instead of 127.0.0.1 (the issuer follows the Host)', async () => {
    const localhost = emulator.origin.replace('127.0.0.1', 'localhost');
    const env = { ...emulator.env(TENANT), AZURE_AUTHORITY_HOST: localhost };
    const run = await runNode(
      `${MSAL_PRELUDE}\nconst { ok, errorCode } = await attempt();\nconsole.log(JSON.stringify({ ok, errorCode }));`,
      env,
    );
    expect(JSON.parse(run.stdout)).toEqual({ ok: true });
  });

  it('acquires a token with a certificate credential (client assertion)', async () => {
    const pems = await generate([{ name: 'commonName', value: 'test app' }], { keySize: 2048, algorithm: 'sha256' });
    const thumbprintSha256 = new X509Certificate(pems.cert).fingerprint256.replace(/:/g, '');
    const script = `
import { ConfidentialClientApplication } from '@azure/msal-node';
const env = process.env;
const app = new ConfidentialClientApplication({
  auth: {
    clientId: env.AZURE_CLIENT_ID,
    clientCertificate: { thumbprintSha256: env.THUMBPRINT, privateKey: env.PRIVATE_KEY, x5c: env.CERTIFICATE },
    authority: env.AZURE_AUTHORITY_HOST + '/' + env.AZURE_TENANT_ID,
    knownAuthorities: [new URL(env.AZURE_AUTHORITY_HOST).host],
  },
});
const result = await app.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
console.log(JSON.stringify({ tokenType: result.tokenType }));
`;
    const run = await runNode(script, {
      ...emulator.env(TENANT),
      THUMBPRINT: thumbprintSha256,
      PRIVATE_KEY: pems.private,
      CERTIFICATE: pems.cert,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ tokenType: 'Bearer' });
    expect((await control.stats()).tenants[TENANT]?.tokensIssued).toBe(1);
  });

  it('surfaces a wrong secret as invalid_client', async () => {
    const run = await runNode(`${MSAL_PRELUDE}\nconsole.log(JSON.stringify(await attempt()));`, {
      ...emulator.env(TENANT),
      AZURE_CLIENT_SECRET: 'wrong',
    });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; errorCode: string; message: string };
    expect(result).toMatchObject({ ok: false, errorCode: 'invalid_client' });
    expect(result.message).toContain('AADSTS7000215');
  });

  it('recovers from a token outage one second after it ends (MSAL honours Retry-After: 1)', async () => {
    // MSAL remembers a 5xx for Retry-After seconds (60 s when absent or below 1) and refuses
    // locally meanwhile; this pins the emulator's whole-second Retry-After that keeps recovery fast.
    const script = `${MSAL_PRELUDE}
const put = (on) => fetch(env.AZURE_AUTHORITY_HOST + '/_emulator/token-outage', { method: 'PUT', body: JSON.stringify({ on }) });
await put(true);
const during = await attempt();
await put(false);
const rightAfter = await attempt();
await new Promise((resolve) => setTimeout(resolve, 1100));
const later = await attempt();
console.log(JSON.stringify({ during, rightAfter, later: { ok: later.ok } }));
`;
    const run = await runNode(script, emulator.env(TENANT));
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      during: { ok: boolean; errorCode: string };
      rightAfter: { ok: boolean };
      later: { ok: boolean };
    };
    expect(result.during).toMatchObject({ ok: false, errorCode: 'temporarily_unavailable' });
    expect(result.rightAfter.ok).toBe(false);
    expect(result.later.ok).toBe(true);
    // The refusal right after came from MSAL's own throttle cache, not from the emulator.
    expect((await control.stats()).tenants[TENANT]?.tokenRequests).toBe(2);
  });
});

describe('Graph authentication and envelope', () => {
  it('answers 401 InvalidAuthenticationToken without a token, with ids in headers and innerError', async () => {
    const clientRequestId = randomUUID();
    const answer = await call(`${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations`, {
      headers: { 'client-request-id': clientRequestId },
    });
    expect(answer.status).toBe(401);
    const body = answer.json as unknown as GraphErrorBody;
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.innerError['request-id']).toBe(answer.headers['request-id']);
    expect(body.error.innerError['client-request-id']).toBe(clientRequestId);
    expect(answer.headers['client-request-id']).toBe(clientRequestId);
    expect(body.error.innerError.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('answers 401 for a token it never issued', async () => {
    const answer = await call(`${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations`, {
      headers: { authorization: 'Bearer forged.token.here' },
    });
    expect(answer.status).toBe(401);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('InvalidAuthenticationToken');
    expect((await control.stats()).unauthorized).toBe(1);
  });

  it('puts a fresh request-id on every answer', async () => {
    const first = await graph('GET', `${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations`);
    const second = await graph('GET', `${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations`);
    expect(first.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers['request-id']).not.toBe(second.headers['request-id']);
  });
});

describe('assignments', () => {
  it('creates an assignment (201) and a duplicate for the same group, which the truth counts', async () => {
    const configurationId = await configuration();
    const groupId = randomUUID().toUpperCase();
    const first = await postAssignment(configurationId, groupId);
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      '@odata.type': ASSIGNMENT_TYPE,
      target: { '@odata.type': GROUP_TARGET_TYPE, groupId: groupId.toLowerCase() },
    });
    expect(first.json.id).toMatch(/^[0-9a-f-]{36}$/);
    const second = await postAssignment(configurationId, groupId);
    expect(second.status).toBe(201);
    expect(second.json.id).not.toBe(first.json.id);
    const truth = await control.truth();
    expect(truth).toMatchObject({ assignments: 2, duplicates: 1 });
    expect(truth.tenants[TENANT]?.[configurationId]?.[groupId.toLowerCase()]).toBe(2);
  });

  it('refuses bad bodies and ids with 400 BadRequest and creates nothing', async () => {
    const configurationId = await configuration();
    const url = assignmentsUrl(configurationId);
    const answers = await Promise.all([
      graph('POST', url, '{not json'),
      graph('POST', url, { '@odata.type': ASSIGNMENT_TYPE }),
      graph('POST', url, { target: { '@odata.type': GROUP_TARGET_TYPE, groupId: 'not-a-guid' } }),
      graph('POST', assignmentsUrl('not-a-guid'), assignmentBody(randomUUID())),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect((answer.json as unknown as GraphErrorBody).error.code).toBe('BadRequest');
    }
    expect((await control.truth()).assignments).toBe(0);
  });

  it('gets and deletes one assignment by id, 404 once it is gone', async () => {
    const configurationId = await configuration();
    const created = await postAssignment(configurationId, randomUUID());
    const url = `${assignmentsUrl(configurationId)}/${created.json.id as string}`;
    expect((await graph('GET', url)).json.id).toBe(created.json.id);
    expect((await graph('DELETE', url)).status).toBe(204);
    const gone = await graph('GET', url);
    expect(gone.status).toBe(404);
    expect((gone.json as unknown as GraphErrorBody).error.code).toBe('ResourceNotFound');
    expect((await graph('DELETE', url)).status).toBe(404);
    expect((await control.truth()).assignments).toBe(0);
  });

  it('pages the list with absolute nextLinks, pageSize by default and $top on request', async () => {
    const configurationId = randomUUID();
    const groups = [1, 2, 3, 4, 5].map(() => randomUUID());
    for (const groupId of groups) await control.createAssignment(TENANT, configurationId, groupId);

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let next: string | undefined = assignmentsUrl(configurationId);
    while (next) {
      expect(next.startsWith(emulator.origin)).toBe(true);
      const page = (await graph('GET', next)).json as unknown as ListBody;
      pageSizes.push(page.value.length);
      seen.push(...page.value.map((assignment) => assignment.target.groupId));
      next = page['@odata.nextLink'];
    }
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(groups);

    const top = (await graph('GET', `${assignmentsUrl(configurationId)}?$top=3`)).json as unknown as ListBody;
    expect(top.value).toHaveLength(3);
    expect(top['@odata.nextLink']).toContain('%24top=3');
    const rest = (await graph('GET', top['@odata.nextLink'] ?? '')).json as unknown as ListBody;
    expect(rest.value.map((assignment) => assignment.target.groupId)).toEqual(groups.slice(3));
    expect(rest['@odata.nextLink']).toBeUndefined();
  });

  it('lists the tenant’s configurations, including ones created through the control API', async () => {
    const created = await control.createConfiguration(TENANT, { displayName: 'Baseline' });
    await control.createConfiguration(OTHER_TENANT, { displayName: 'Not yours' });
    const list = (await graph('GET', `${emulator.graphBaseUrl}/officeConfiguration/clientConfigurations`)).json as {
      value: { id: string; displayName: string }[];
    };
    expect(list.value).toEqual([expect.objectContaining({ id: created.id, displayName: 'Baseline' })]);
  });

  it('delays every Graph answer by latencyMs', async () => {
    const slow = await startEmulator({ port: 0, certDir, latencyMs: 150 });
    try {
      const started = performance.now();
      const answer = await call(`${slow.graphBaseUrl}/officeConfiguration/clientConfigurations`);
      expect(answer.status).toBe(401);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await slow.close();
    }
  });
});

describe('configurations: strict by default, lenient on request', () => {
  it('answers 404 for a configuration nobody created, and serves one created through the control API', async () => {
    const strict = await startEmulator({ port: 0, certDir });
    const strictControl = new EmulatorControl(strict.origin, strict.caCertPath);
    try {
      const tokenAnswer = await call(`${strict.origin}/${TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'any',
          scope: 'https://graph.microsoft.com/.default',
        }).toString(),
      });
      const headers = {
        authorization: `Bearer ${tokenAnswer.json.access_token as string}`,
        'content-type': 'application/json',
      };
      const url = (id: string) => `${strict.graphBaseUrl}/officeConfiguration/clientConfigurations/${id}/assignments`;
      const body = JSON.stringify(assignmentBody(randomUUID()));

      const unknownId = randomUUID();
      const unknown = await call(url(unknownId), { method: 'POST', headers, body });
      expect(unknown.status).toBe(404);
      expect((unknown.json as unknown as GraphErrorBody).error.code).toBe('ResourceNotFound');
      expect((await call(url(unknownId), { headers })).status).toBe(404);
      const configurationUrl = `${strict.graphBaseUrl}/officeConfiguration/clientConfigurations/${unknownId}`;
      expect((await call(configurationUrl, { headers })).status).toBe(404);
      expect((await strictControl.settings()).strictConfigurations).toBe(true);

      const { id } = await strictControl.createConfiguration(TENANT, { displayName: 'Known' });
      expect((await call(url(id), { method: 'POST', headers, body })).status).toBe(201);
      expect((await strictControl.truth()).assignments).toBe(1);

      // A configuration belongs to its tenant: the same id is unknown to another tenant's token.
      const otherToken = await call(`${strict.origin}/${OTHER_TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'any',
          scope: 'https://graph.microsoft.com/.default',
        }).toString(),
      });
      const otherHeaders = { ...headers, authorization: `Bearer ${otherToken.json.access_token as string}` };
      expect((await call(url(id), { method: 'POST', headers: otherHeaders, body })).status).toBe(404);
    } finally {
      await strict.close();
    }
  });

  it('lenient mode: any GUID is a configuration, created on first use', async () => {
    const lenient = await startEmulator({ port: 0, certDir, strictConfigurations: false });
    const lenientControl = new EmulatorControl(lenient.origin, lenient.caCertPath);
    try {
      const tokenAnswer = await call(`${lenient.origin}/${TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'any',
          scope: 'https://graph.microsoft.com/.default',
        }).toString(),
      });
      const headers = {
        authorization: `Bearer ${tokenAnswer.json.access_token as string}`,
        'content-type': 'application/json',
      };
      const configurationId = randomUUID();
      const configurations = `${lenient.graphBaseUrl}/officeConfiguration/clientConfigurations`;
      const created = await call(`${configurations}/${configurationId}/assignments`, {
        method: 'POST',
        headers,
        body: JSON.stringify(assignmentBody(randomUUID())),
      });
      expect(created.status).toBe(201);
      expect((await call(`${configurations}/${randomUUID()}/assignments`, { headers })).status).toBe(200);
      expect((await call(`${configurations}/${configurationId}`, { headers })).json.id).toBe(configurationId);
      expect((await lenientControl.truth()).tenants[TENANT]?.[configurationId]).toBeDefined();
      expect((await lenientControl.settings()).strictConfigurations).toBe(false);
    } finally {
      await lenient.close();
    }
  });
});

describe('throttling', () => {
  it('answers 429 with Retry-After past the per-tenant write limit, and keeps tenants apart', async () => {
    await control.setRateLimit({ max: 3, windowMs: 60_000 });
    const configurationId = await configuration();
    for (let i = 0; i < 3; i++) expect((await postAssignment(configurationId, randomUUID())).status).toBe(201);

    const throttled = await postAssignment(configurationId, randomUUID());
    expect(throttled.status).toBe(429);
    expect((throttled.json as unknown as GraphErrorBody).error.code).toBe('TooManyRequests');
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(throttled.headers['retry-after']).toMatch(/^\d+\.\d{3}$/);

    // DELETE is a write too; reads are not limited.
    expect((await graph('DELETE', `${assignmentsUrl(configurationId)}/${randomUUID()}`)).status).toBe(429);
    expect((await graph('GET', assignmentsUrl(configurationId))).status).toBe(200);
    await control.createConfiguration(OTHER_TENANT, { id: configurationId });
    expect((await postAssignment(configurationId, randomUUID(), OTHER_TENANT)).status).toBe(201);

    const stats = await control.stats(60_000);
    expect(stats.tenants[TENANT]).toMatchObject({ writesAccepted: 3, throttled: 2, maxWritesInWindow: 3 });
    expect(stats.tenants[OTHER_TENANT]).toMatchObject({ writesAccepted: 1, throttled: 0, maxWritesInWindow: 1 });
    expect((await control.truth()).assignments).toBe(4);
  });

  it('reports the most accepted writes in any window of the asked length', async () => {
    const configurationId = await configuration();
    for (let i = 0; i < 4; i++) await postAssignment(configurationId, randomUUID());
    const stats = await control.stats(60_000);
    expect(stats.windowMs).toBe(60_000);
    expect(stats.tenants[TENANT]?.maxWritesInWindow).toBe(4);
    expect((await control.stats(1)).tenants[TENANT]?.maxWritesInWindow).toBeLessThan(4);
  });
});

describe('faults on assignment POSTs', () => {
  it('503 ServiceUnavailable with Retry-After, nothing created', async () => {
    await control.setFaults({ serviceUnavailable: 1 });
    const configurationId = await configuration();
    const answer = await postAssignment(configurationId, randomUUID());
    expect(answer.status).toBe(503);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('ServiceUnavailable');
    expect(answer.headers['retry-after']).toBe('1.000');
    expect((await control.truth()).assignments).toBe(0);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({
      writesAccepted: 0,
      faults: { serviceUnavailable: 1 },
    });
  });

  it('500 InternalServerError, nothing created', async () => {
    await control.setFaults({ internalError: 1 });
    const answer = await postAssignment(await configuration(), randomUUID());
    expect(answer.status).toBe(500);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('InternalServerError');
    expect((await control.truth()).assignments).toBe(0);
  });

  it('reset: the connection drops before the commit, nothing created', async () => {
    await control.setFaults({ reset: 1 });
    await expect(postAssignment(await configuration(), randomUUID())).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await control.truth()).assignments).toBe(0);
    expect((await control.stats()).tenants[TENANT]?.faults.reset).toBe(1);
  });

  it('commit-then-reset: exactly one assignment exists although the client saw a socket error', async () => {
    await control.setFaults({ commitThenReset: 1 });
    const configurationId = await configuration();
    const groupId = randomUUID();
    await expect(postAssignment(configurationId, groupId)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await countOf(TENANT, configurationId, groupId)).toBe(1);
    expect((await control.truth()).assignments).toBe(1);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({
      writesAccepted: 1,
      faults: { commitThenReset: 1 },
    });
  });

  it('slow commit: 504 at once, the assignment appears only after slowCommitMs', async () => {
    await control.setFaults({ slowCommit: 1 });
    const configurationId = await configuration();
    const groupId = randomUUID();
    const started = performance.now();
    const answer = await postAssignment(configurationId, groupId);
    expect(answer.status).toBe(504);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('GatewayTimeout');
    expect(await countOf(TENANT, configurationId, groupId)).toBe(0);
    while ((await countOf(TENANT, configurationId, groupId)) === 0) {
      expect(performance.now() - started).toBeLessThan(10_000);
      await sleep(25);
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(await countOf(TENANT, configurationId, groupId)).toBe(1);
  });

  it('503 without Retry-After, nothing created, no slot taken', async () => {
    await control.setFaults({ serviceUnavailableNoRetryAfter: 1 });
    const answer = await postAssignment(await configuration(), randomUUID());
    expect(answer.status).toBe(503);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('ServiceUnavailable');
    expect(answer.headers['retry-after']).toBeUndefined();
    expect((await control.truth()).assignments).toBe(0);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({
      writesAccepted: 0,
      faults: { serviceUnavailableNoRetryAfter: 1 },
    });
  });

  it('502 BadGateway, nothing created', async () => {
    await control.setFaults({ badGateway: 1 });
    const answer = await postAssignment(await configuration(), randomUUID());
    expect(answer.status).toBe(502);
    const body = answer.json as unknown as GraphErrorBody;
    expect(body.error.code).toBe('BadGateway');
    expect(body.error.innerError['request-id']).toBe(answer.headers['request-id']);
    expect((await control.truth()).assignments).toBe(0);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({ writesAccepted: 0, faults: { badGateway: 1 } });
  });

  it('504 GatewayTimeout that commits nothing, unlike a slow commit', async () => {
    await control.setFaults({ gatewayTimeout: 1 });
    const configurationId = await configuration();
    const groupId = randomUUID();
    const answer = await postAssignment(configurationId, groupId);
    expect(answer.status).toBe(504);
    expect((answer.json as unknown as GraphErrorBody).error.code).toBe('GatewayTimeout');
    // Past slowCommitMs (300 ms here): a slow commit would have landed by now.
    await sleep(450);
    expect(await countOf(TENANT, configurationId, groupId)).toBe(0);
    expect((await control.stats()).tenants[TENANT]).toMatchObject({
      writesAccepted: 0,
      faults: { gatewayTimeout: 1, slowCommit: 0 },
    });
  });

  it('draws every kind from one seeded die, the same sequence after a reset', async () => {
    const rates = {
      serviceUnavailable: 0.125,
      serviceUnavailableNoRetryAfter: 0.125,
      internalError: 0.125,
      badGateway: 0.125,
      gatewayTimeout: 0.125,
      reset: 0.125,
      commitThenReset: 0.125,
      slowCommit: 0.125,
    };
    const seeded = await startEmulator({ port: 0, certDir, seed: 11, slowCommitMs: 50, faults: rates });
    const seededControl = new EmulatorControl(seeded.origin, seeded.caCertPath);
    const token = (
      await call(`${seeded.origin}/${TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'any',
          scope: 'https://graph.microsoft.com/.default',
        }).toString(),
      })
    ).json.access_token as string;
    const outcomes = async (): Promise<string[]> => {
      const { id } = await seededControl.createConfiguration(TENANT);
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        const answer = await call(`${seeded.graphBaseUrl}/officeConfiguration/clientConfigurations/${id}/assignments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(assignmentBody(randomUUID())),
        }).then(
          (ok) => String(ok.status),
          () => 'dropped',
        );
        seen.push(answer);
      }
      return seen;
    };
    try {
      const first = await outcomes();
      const stats = (await seededControl.stats()).tenants[TENANT];
      for (const kind of Object.keys(rates)) expect(stats?.faults[kind as keyof typeof rates]).toBeGreaterThan(0);
      await seededControl.reset();
      expect(await outcomes()).toEqual(first);
    } finally {
      await seeded.close();
    }
  });

  it('applies faults to assignment POSTs only', async () => {
    await control.setFaults({ internalError: 1 });
    expect((await graph('GET', assignmentsUrl(await configuration()))).status).toBe(200);
  });
});

describe('fault Retry-After', () => {
  it('is what faultRetryAfterMs says on POST, GET and token 503 faults, and absent on their no-Retry-After kind', async () => {
    const slow = await startEmulator({ port: 0, certDir, faultRetryAfterMs: 2000, retryAfterFormat: 'seconds' });
    const slowControl = new EmulatorControl(slow.origin, slow.caCertPath);
    const tokenRequest = (): Promise<HttpsAnswer> =>
      call(`${slow.origin}/${TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT,
          client_secret: 'any',
          scope: 'https://graph.microsoft.com/.default',
        }).toString(),
      });
    try {
      const headers = {
        authorization: `Bearer ${(await tokenRequest()).json.access_token as string}`,
        'content-type': 'application/json',
      };
      const { id } = await slowControl.createConfiguration(TENANT);
      const url = `${slow.graphBaseUrl}/officeConfiguration/clientConfigurations/${id}/assignments`;
      const body = JSON.stringify(assignmentBody(randomUUID()));
      expect((await slowControl.setFaults({ serviceUnavailable: 1 })).serviceUnavailable).toBe(1);
      expect((await slowControl.settings()).faultRetryAfterMs).toBe(2000);

      const post = await call(url, { method: 'POST', headers, body });
      expect(post.status).toBe(503);
      expect(post.headers['retry-after']).toBe('2');

      await slowControl.setReadFaults({ serviceUnavailable: 1 });
      const read = await call(url, { headers });
      expect(read.status).toBe(503);
      expect(read.headers['retry-after']).toBe('2');

      await slowControl.setTokenFaults({ serviceUnavailable: 1 });
      const token = await tokenRequest();
      expect(token.status).toBe(503);
      expect(token.json.error).toBe('temporarily_unavailable');
      expect(token.headers['retry-after']).toBe('2');

      await slowControl.setFaults({ serviceUnavailableNoRetryAfter: 1 });
      const bare = await call(url, { method: 'POST', headers, body });
      expect(bare.status).toBe(503);
      expect(bare.headers['retry-after']).toBeUndefined();
    } finally {
      await slow.close();
    }
  });

  it('defaults to one second in the --retry-after format', async () => {
    await control.setFaults({ serviceUnavailable: 1 });
    expect((await control.settings()).faultRetryAfterMs).toBe(1000);
    expect((await postAssignment(await configuration(), randomUUID())).headers['retry-after']).toBe('1.000');
  });
});

describe('control API', () => {
  it('refuses fault rates that cannot be one die', async () => {
    await expect(control.setFaults({ reset: 0.7, internalError: 0.7 })).rejects.toThrow(/400.*sum to at most 1/);
    await expect(control.setFaults({ reset: 2 })).rejects.toThrow(/400/);
    await expect(control.setFaults({ badGateway: 0.5, gatewayTimeout: 0.6 })).rejects.toThrow(/400.*sum to at most 1/);
    await expect(control.setFaults({ notAKind: 0.1 } as never)).rejects.toThrow(/400/);
  });

  it('takes every POST fault kind in PUT faults and answers them all', async () => {
    expect(
      await control.setFaults({ serviceUnavailableNoRetryAfter: 0.1, badGateway: 0.2, gatewayTimeout: 0.3 }),
    ).toEqual({
      serviceUnavailable: 0,
      serviceUnavailableNoRetryAfter: 0.1,
      internalError: 0,
      badGateway: 0.2,
      gatewayTimeout: 0.3,
      reset: 0,
      commitThenReset: 0,
      slowCommit: 0,
    });
  });

  it('seeds assignments without limits or faults, and reset empties state and restores settings', async () => {
    await control.setFaults({ serviceUnavailable: 1 });
    await control.setRateLimit({ max: 1, windowMs: 60_000 });
    const configurationId = randomUUID();
    const groupId = randomUUID();
    await control.createAssignment(TENANT, configurationId, groupId);
    await control.createAssignment(TENANT, configurationId, groupId);
    expect(await control.truth()).toMatchObject({ assignments: 2, duplicates: 1 });

    await control.reset();
    expect(await control.truth()).toEqual({ assignments: 0, duplicates: 0, tenants: {} });
    expect((await control.stats()).tenants).toEqual({});
    // The reset forgot the configuration too.
    expect((await postAssignment(configurationId, groupId)).status).toBe(404);
    await control.createConfiguration(TENANT, { id: configurationId });
    expect((await postAssignment(configurationId, groupId)).status).toBe(201);
    expect((await postAssignment(configurationId, groupId)).status).toBe(201);
  });

  it('answers 404 for an unknown control route', async () => {
    const answer = await call(`${emulator.origin}/_emulator/nope`);
    expect(answer.status).toBe(404);
  });
});

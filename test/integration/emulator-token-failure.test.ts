import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';

/**
 * The token endpoint failing on demand (`PUT /_emulator/token-failure`), as the chaos suite drives it
 * mid-rollout: each mode answers in Entra's shape, new tokens only are refused (tokens already
 * issued keep working at Graph), and a reset or `{mode: null}` brings issuing back.
 */

const TENANT = randomUUID();
const CLIENT = randomUUID();
const FORM = {
  grant_type: 'client_credentials',
  client_id: CLIENT,
  client_secret: 's',
  scope: 'https://graph.microsoft.com/.default',
};

const certDir = mkdtempSync(join(tmpdir(), 'emulator-token-failure-'));
let emulator: RunningEmulator;
let control: EmulatorControl;
let ca: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, certDir });
  control = new EmulatorControl(emulator.origin, emulator.caCertPath);
  ca = readFileSync(emulator.caCertPath, 'utf8');
});
afterAll(async () => {
  await emulator?.close();
  rmSync(certDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: Record<string, unknown>;
}

function call(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${emulator.origin}${path}`, { method, ca, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const requestToken = () =>
  call('POST', `/${TENANT}/oauth2/v2.0/token`, new URLSearchParams(FORM).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
  });
const listConfigurations = (token: string) =>
  call('GET', '/beta/officeConfiguration/clientConfigurations', undefined, { authorization: `Bearer ${token}` });

describe('PUT /_emulator/token-failure', () => {
  it('answers each mode in Entra shape, keeps issued tokens valid, and issues again once lifted', async () => {
    const before = await requestToken();
    expect(before.status).toBe(200);
    const token = before.json.access_token as string;

    expect(await control.setTokenFailure('500')).toEqual({ mode: '500' });
    const serverError = await requestToken();
    expect(serverError).toMatchObject({ status: 500, json: { error: 'server_error', error_codes: [50000] } });
    expect(serverError.headers['retry-after']).toBeUndefined();

    await control.setTokenFailure('503');
    const unavailable = await requestToken();
    expect(unavailable).toMatchObject({ status: 503, json: { error: 'temporarily_unavailable' } });
    expect(unavailable.headers['retry-after']).toBe('1');

    await control.setTokenFailure('invalid_client');
    const rejected = await requestToken();
    expect(rejected).toMatchObject({ status: 401, json: { error: 'invalid_client', error_codes: [7000222] } });
    expect(rejected.json.error_description).toMatch(/^AADSTS7000222: /);
    expect((await call('GET', '/_emulator/settings')).json.tokenFailure).toBe('invalid_client');
    // Revoking a secret does not recall the access tokens a client already holds.
    expect((await listConfigurations(token)).status).toBe(200);

    expect(await control.setTokenFailure(null)).toEqual({ mode: null });
    expect((await requestToken()).status).toBe(200);
    const stats = await control.stats();
    expect(stats.tenants[TENANT]).toMatchObject({ tokenRequests: 5, tokensIssued: 2 });
  });

  it('is lifted by a reset', async () => {
    await control.setTokenFailure('invalid_client');
    await control.reset();
    expect((await call('GET', '/_emulator/settings')).json.tokenFailure).toBeNull();
    expect((await requestToken()).status).toBe(200);
  });

  it('refuses an unknown mode with 400 and changes nothing', async () => {
    const answer = await call('PUT', '/_emulator/token-failure', JSON.stringify({ mode: '502' }), {
      'content-type': 'application/json',
    });
    expect(answer.status).toBe(400);
    expect((await call('GET', '/_emulator/settings')).json.tokenFailure).toBeNull();
  });
});

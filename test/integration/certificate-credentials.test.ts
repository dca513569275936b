import { spawn } from 'node:child_process';
import { constants, createHash, randomUUID, verify, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeRows, startStack, type CliResult, type Stack } from '../support/stack.js';
import { startGraphTap, type GraphTap } from '../support/graph-tap.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * App identity by certificate (AZURE_CLIENT_CERTIFICATE_PATH, a PEM holding the private key and the
 * certificate, as the Azure SDK reads it): the worker gets its tokens with a signed client assertion
 * instead of a secret, and a certificate it cannot use stops it at start with a one-line error.
 */

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A token request as it reached Entra ID (the form body). */
type TokenRequest = URLSearchParams;

function decodeJwtPart(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Runs `assignments worker` to its exit (it is expected to refuse to start); kills it after `timeoutMs`. */
function runWorkerToExit(env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      rejectRun(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

describe('a worker with a client certificate instead of a secret', () => {
  let stack: Stack;
  let tap: GraphTap;
  let pemPath: string;
  let certificate: X509Certificate;
  const tokenRequests: Promise<TokenRequest>[] = [];

  beforeAll(async () => {
    stack = await startStack();
    const pems = await generate([{ name: 'commonName', value: 'graph-assignments test app' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
    });
    certificate = new X509Certificate(pems.cert);
    pemPath = join(stack.dir, 'app-credential.pem');
    // Key first, then the certificate, in one file (what `az ad sp create-for-rbac --create-cert` writes).
    writeFileSync(pemPath, `${pems.private.trim()}\n${pems.cert.trim()}\n`, { mode: 0o600 });
    // A pass-through in front of Entra ID, to read the token requests the worker sends.
    tap = await startGraphTap(stack.emulator, join(stack.dir, 'emulator'), (req) => {
      if (req.method === 'POST' && /\/oauth2\/v2\.0\/token$/.test(new URL(req.url ?? '/', 'https://x').pathname)) {
        tokenRequests.push(
          new Promise<TokenRequest>((resolveBody) => {
            const chunks: Buffer[] = [];
            req.on('data', (chunk: Buffer) => chunks.push(chunk));
            req.on('end', () => resolveBody(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
          }),
        );
      }
      return undefined;
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await tap?.close();
  });

  it('gets its tokens with a signed client assertion and assigns every row exactly once', async () => {
    const tenantId = randomUUID();
    const rows = makeRows([tenantId], 2, 5);
    await stack.control.createConfigurations(rows);
    const [, rolloutId] = await Promise.all([
      stack.worker({
        AZURE_CLIENT_SECRET: '',
        AZURE_CLIENT_CERTIFICATE_PATH: pemPath,
        AZURE_AUTHORITY_HOST: tap.origin,
      }),
      enqueueRows(stack, rows),
    ]);
    const counters = await stack.waitFinished(rolloutId, 20_000);
    expect({
      total: Number(counters.total),
      created: Number(counters.created),
      failed: Number(counters.failed),
    }).toEqual({ total: rows.length, created: rows.length, failed: 0 });
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectEachAssignedOnce(stack, rows);
    expect((await stack.control.stats()).tenants[tenantId]?.tokensIssued).toBeGreaterThanOrEqual(1);

    // What went to Entra ID: an assertion signed with the certificate's key, never a secret.
    const requests = await Promise.all(tokenRequests);
    expect(requests.length).toBeGreaterThanOrEqual(1);
    const thumbprintSha256 = createHash('sha256').update(certificate.raw).digest('base64url');
    for (const body of requests) {
      expect(body.has('client_secret')).toBe(false);
      expect(body.get('grant_type')).toBe('client_credentials');
      expect(body.get('client_id')).toBe(stack.env.AZURE_CLIENT_ID);
      expect(body.get('client_assertion_type')).toBe(JWT_BEARER);
      const assertion = body.get('client_assertion') ?? '';
      const [header, claims, signature] = assertion.split('.');
      const head = decodeJwtPart(header);
      expect(head['x5t#S256'] ?? head.x5t).toBeDefined();
      if (head['x5t#S256'] !== undefined) expect(head['x5t#S256']).toBe(thumbprintSha256);
      const payload = decodeJwtPart(claims);
      expect(payload).toMatchObject({
        iss: stack.env.AZURE_CLIENT_ID,
        sub: stack.env.AZURE_CLIENT_ID,
        aud: `${tap.origin}/${tenantId}/oauth2/v2.0/token`,
      });
      expect(typeof payload.exp === 'number' && payload.exp * 1000 > Date.now() - 60_000).toBe(true);
      // The emulator does not check the signature; this test does, against the certificate's public key.
      expect(['PS256', 'RS256']).toContain(head.alg);
      const pss = head.alg === 'PS256';
      const signedBy = verify(
        'sha256',
        Buffer.from(`${header}.${claims}`),
        {
          key: certificate.publicKey,
          padding: pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
          ...(pss ? { saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : {}),
        },
        Buffer.from(signature ?? '', 'base64url'),
      );
      expect(signedBy, 'client assertion is not signed by the certificate key').toBe(true);
    }
  });

  it('refuses to start when AZURE_CLIENT_CERTIFICATE_PATH cannot be read: exit 2, one line naming it, no stack', async () => {
    const run = await runWorkerToExit({
      ...stack.env,
      AZURE_CLIENT_SECRET: '',
      AZURE_CLIENT_CERTIFICATE_PATH: '/nonexistent.pem',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('AZURE_CLIENT_CERTIFICATE_PATH');
    expect(run.stderr).toContain('/nonexistent.pem');
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('worker started');
  });

  it('refuses to start when the PEM holds no private key: exit 2, naming AZURE_CLIENT_CERTIFICATE_PATH, no stack', async () => {
    const certOnly = join(stack.dir, 'cert-only.pem');
    writeFileSync(certOnly, certificate.toString());
    const run = await runWorkerToExit({
      ...stack.env,
      AZURE_CLIENT_SECRET: '',
      AZURE_CLIENT_CERTIFICATE_PATH: certOnly,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('AZURE_CLIENT_CERTIFICATE_PATH');
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('worker started');
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  emulatorCommand,
  formatEnv,
  parseEmulatorOptions,
  type RawEmulatorOptions,
} from '../../cli/emulator-command.js';
import { startEmulator } from '../../emulator/emulator-server.js';
import { UserError } from '../../lib/errors/user-error.js';

const DEFAULTS: RawEmulatorOptions = {
  host: '127.0.0.1',
  port: '8443',
  certDir: './.emulator',
  retryAfter: 'fractional',
  latencyMs: '0',
  fault: [],
  slowCommitMs: '1500',
  pageSize: '100',
};

const certDir = mkdtempSync(join(tmpdir(), 'emulator-command-test-'));

afterAll(() => rmSync(certDir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function usageError(raw: Partial<RawEmulatorOptions>): UserError {
  try {
    parseEmulatorOptions({ ...DEFAULTS, ...raw });
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('E_USAGE');
    return error as UserError;
  }
  throw new Error('expected a UserError');
}

describe('parseEmulatorOptions', () => {
  it('turns the defaults into emulator options', () => {
    expect(parseEmulatorOptions(DEFAULTS)).toEqual({
      printEnv: false,
      options: {
        host: '127.0.0.1',
        port: 8443,
        certDir: './.emulator',
        retryAfterFormat: 'fractional',
        latencyMs: 0,
        faults: {},
        slowCommitMs: 1500,
        pageSize: 100,
        strictConfigurations: true,
      },
    });
  });

  it('reads rate limits, faults (comma-separated and repeated), secrets and seeds', () => {
    const { options, printEnv } = parseEmulatorOptions({
      ...DEFAULTS,
      rateLimit: '100/20s',
      fault: ['503=0.05,500=0.02,reset=0.02', 'commit-reset=0.02,slow-commit=.02'],
      clientSecret: 's3cret',
      seed: '-7',
      lenientConfigurations: true,
      printEnv: true,
    });
    expect(printEnv).toBe(true);
    expect(options).toMatchObject({
      rateLimit: { max: 100, windowMs: 20_000 },
      faults: { serviceUnavailable: 0.05, internalError: 0.02, reset: 0.02, commitThenReset: 0.02, slowCommit: 0.02 },
      clientSecret: 's3cret',
      seed: -7,
      strictConfigurations: false,
    });
  });

  it('keeps configurations strict by default and still accepts --strict-configurations', () => {
    expect(parseEmulatorOptions(DEFAULTS).options.strictConfigurations).toBe(true);
    expect(parseEmulatorOptions({ ...DEFAULTS, strictConfigurations: true }).options.strictConfigurations).toBe(true);
    expect(parseEmulatorOptions({ ...DEFAULTS, lenientConfigurations: true }).options.strictConfigurations).toBe(false);
  });

  it.each([
    [{ port: '70000' }, '--port'],
    [{ port: 'http' }, '--port'],
    [{ latencyMs: '-1' }, '--latency-ms'],
    [{ slowCommitMs: '1.5' }, '--slow-commit-ms'],
    [{ pageSize: '0' }, '--page-size'],
    [{ rateLimit: '25' }, '--rate-limit'],
    [{ retryAfter: 'minutes' }, '--retry-after'],
    [{ fault: ['404=0.1'] }, '--fault'],
    [{ fault: ['reset'] }, '--fault'],
    [{ fault: ['reset=2'] }, '--fault'],
    [{ fault: ['reset=0.6,500=0.6'] }, '--fault'],
    [{ fault: ['reset=0.1', 'reset=0.2'] }, '--fault'],
    [{ seed: 'abc' }, '--seed'],
    [{ clientSecret: '' }, '--client-secret'],
    [{ host: ' ' }, '--host'],
    [{ throttleModel: 'token-bucket' }, '--throttle-model'],
    [{ rateLimit: '5/1s', throttleModel: 'leaky-bucket' }, '--throttle-model'],
    [{ rateLimit: '5/1s', throttleSignal: '418' }, '--throttle-signal'],
    [{ throttleSignal: '503' }, '--throttle-signal'],
    [{ tenantThrottle: ['token-bucket:5/1s'] }, '--tenant-throttle'],
    [{ tenantThrottle: ['not-a-guid=token-bucket:5/1s'] }, '--tenant-throttle'],
    [{ tenantThrottle: ['0c4a7f0e-1111-4222-8333-444455556666=leaky:5/1s'] }, '--tenant-throttle'],
    [{ tenantThrottle: ['0c4a7f0e-1111-4222-8333-444455556666=fixed-window:5'] }, '--tenant-throttle'],
    [{ tenantThrottle: ['0c4a7f0e-1111-4222-8333-444455556666=fixed-window:5/1s:599'] }, '--tenant-throttle'],
    [{ readFault: ['commit-reset=0.1'] }, '--read-fault'],
    [{ readFault: ['502=0.6,504=0.6'] }, '--read-fault'],
    [{ tokenFault: ['slow-commit=0.1'] }, '--token-fault'],
    [{ lenientConfigurations: true, strictConfigurations: true }, '--lenient-configurations'],
  ])('refuses %j with a UserError naming %s', (raw, option) => {
    expect(usageError(raw).message).toContain(option);
  });
});

describe('parseEmulatorOptions: throttle models and request faults', () => {
  const TENANT = '0C4A7F0E-1111-4222-8333-444455556666';

  it('keeps --rate-limit alone as the default sliding window', () => {
    const { options } = parseEmulatorOptions({ ...DEFAULTS, rateLimit: '100/20s' });
    expect(options.rateLimit).toEqual({ max: 100, windowMs: 20_000 });
    expect(options.throttle).toBeUndefined();
  });

  it('reads --throttle-model and --throttle-signal as the global throttle, with --rate-limit as its budget', () => {
    const { options } = parseEmulatorOptions({
      ...DEFAULTS,
      rateLimit: '100/20s',
      throttleModel: 'fixed-window',
      throttleSignal: '503',
    });
    expect(options.rateLimit).toBeUndefined();
    expect(options.throttle).toEqual({ model: 'fixed-window', max: 100, windowMs: 20_000, signal: '503' });
  });

  it('reads --tenant-throttle per tenant, signal optional', () => {
    const { options } = parseEmulatorOptions({
      ...DEFAULTS,
      tenantThrottle: [
        `${TENANT}=token-bucket:25/1s`,
        '9d1b2c3e-aaaa-4bbb-8ccc-ddddeeeeffff=fixed-window:100/20s:429-no-retry-after',
      ],
    });
    expect(options.tenantThrottle).toEqual({
      [TENANT.toLowerCase()]: { model: 'token-bucket', max: 25, windowMs: 1000, signal: '429' },
      '9d1b2c3e-aaaa-4bbb-8ccc-ddddeeeeffff': {
        model: 'fixed-window',
        max: 100,
        windowMs: 20_000,
        signal: '429-no-retry-after',
      },
    });
  });

  it('reads --read-fault and --token-fault kinds', () => {
    const { options } = parseEmulatorOptions({
      ...DEFAULTS,
      readFault: ['503=0.1,503-no-retry-after=0.1', '500=0.1,502=0.1,504=0.1,reset=0.1'],
      tokenFault: ['504=0.2'],
    });
    expect(options.readFaults).toEqual({
      serviceUnavailable: 0.1,
      serviceUnavailableNoRetryAfter: 0.1,
      internalError: 0.1,
      badGateway: 0.1,
      gatewayTimeout: 0.1,
      reset: 0.1,
    });
    expect(options.tokenFaults).toEqual({ gatewayTimeout: 0.2 });
  });

  it('reads every request fault kind in --fault too, and --fault-retry-after in seconds', () => {
    const { options } = parseEmulatorOptions({
      ...DEFAULTS,
      fault: ['503-no-retry-after=0.1,502=0.1,504=0.1', 'slow-commit=0.1'],
      faultRetryAfter: '2',
    });
    expect(options.faults).toEqual({
      serviceUnavailableNoRetryAfter: 0.1,
      badGateway: 0.1,
      gatewayTimeout: 0.1,
      slowCommit: 0.1,
    });
    expect(options.faultRetryAfterMs).toBe(2000);
    expect(parseEmulatorOptions({ ...DEFAULTS, faultRetryAfter: '0.25' }).options.faultRetryAfterMs).toBe(250);
    expect(parseEmulatorOptions(DEFAULTS).options.faultRetryAfterMs).toBeUndefined();
  });

  it.each(['0', '-1', '1.2345', 'soon', '3601'])('refuses --fault-retry-after %s', (value) => {
    expect(usageError({ faultRetryAfter: value }).message).toContain('--fault-retry-after');
  });
});

describe('formatEnv', () => {
  it('writes export lines that survive any value in a POSIX shell', () => {
    expect(formatEnv({ A: 'plain', B: "it's" })).toBe("export A='plain'\nexport B='it'\\''s'\n");
  });
});

describe('emulator command', () => {
  it('serves, prints where and the environment, and stops cleanly on SIGTERM', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const signalListenersBefore = new Set(process.listeners('SIGTERM'));
    const running = emulatorCommand().parseAsync(
      ['--port', '0', '--cert-dir', certDir, '--print-env', '--client-secret', 'cli-secret'],
      { from: 'user' },
    );

    const deadline = performance.now() + 10_000;
    while (stdout.length === 0) {
      expect(performance.now()).toBeLessThan(deadline);
      await sleep(10);
    }
    const line = stderr.join('');
    const origin = /listening on (https:\/\/\S+) /.exec(line)?.[1];
    const caPath = /NODE_EXTRA_CA_CERTS=(\S+)/.exec(line)?.[1];
    expect(origin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(caPath).toBe(join(certDir, 'emulator-cert.pem'));
    const env = stdout.join('');
    expect(env).toContain(`export GRAPH_BASE_URL='${origin}/beta'\n`);
    expect(env).toContain(`export AZURE_AUTHORITY_HOST='${origin}'\n`);
    expect(env).toContain("export AZURE_CLIENT_SECRET='cli-secret'\n");
    expect(env).toMatch(/export AZURE_TENANT_ID='[0-9a-f-]{36}'\n/);

    const status = await new Promise<number>((resolveCall, rejectCall) => {
      request(`${origin}/_emulator/health`, { ca: readFileSync(caPath ?? '', 'utf8'), agent: false }, (res) => {
        res.resume();
        resolveCall(res.statusCode ?? 0);
      })
        .on('error', rejectCall)
        .end();
    });
    expect(status).toBe(200);

    // Call the command's own handler rather than emitting SIGTERM at the whole test worker.
    const added = process.listeners('SIGTERM').filter((listener) => !signalListenersBefore.has(listener));
    expect(added).toHaveLength(1);
    for (const listener of added) (listener as (signal: NodeJS.Signals) => void)('SIGTERM');
    await running;
    expect(process.listeners('SIGTERM').filter((listener) => !signalListenersBefore.has(listener))).toHaveLength(0);
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('turns a port in use into a UserError naming the port', async () => {
    const busy = await startEmulator({ port: 0, certDir });
    try {
      const port = new URL(busy.origin).port;
      await expect(
        emulatorCommand().parseAsync(['--port', port, '--cert-dir', certDir], { from: 'user' }),
      ).rejects.toThrow(new RegExp(`--port ${port} is already in use`));
    } finally {
      await busy.close();
    }
  });

  it('throws option errors before starting anything', async () => {
    await expect(emulatorCommand().parseAsync(['--rate-limit', 'lots'], { from: 'user' })).rejects.toBeInstanceOf(
      UserError,
    );
  });
});

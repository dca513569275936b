import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../../emulator/control-client.js';
import { startEmulator, type RunningEmulator } from '../../emulator/emulator-server.js';

/**
 * suspend()/resume(): the emulator stops answering (connections refused) and comes back on the same
 * origin with everything it knew, which is what lets a chaos test check a rollout's truth across a
 * Graph outage.
 */

/** How a GET of `path` ends: its status, or the error code of the connection. */
function probe(emulator: RunningEmulator, path: string): Promise<number | string> {
  const ca = readFileSync(emulator.caCertPath, 'utf8');
  return new Promise((resolve) => {
    const req = request(`${emulator.origin}${path}`, { ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('an emulator suspended and resumed', () => {
  let emulator: RunningEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
  });

  it('refuses connections while suspended, then answers on the same origin with its truth and counters kept', async () => {
    emulator = await startEmulator({ port: 0, certDir: mkdtempSync(join(tmpdir(), 'emulator-suspend-')) });
    const control = new EmulatorControl(emulator.origin, emulator.caCertPath);
    const tenant = randomUUID();
    const configuration = randomUUID();
    const group = randomUUID();
    await control.createAssignment(tenant, configuration, group);

    await emulator.suspend();
    expect(await probe(emulator, '/_emulator/health')).toBe('ECONNREFUSED');
    await emulator.suspend(); // a second suspend is harmless

    await emulator.resume();
    expect(await probe(emulator, '/_emulator/health')).toBe(200);
    const truth = await control.truth();
    expect(truth.tenants[tenant]?.[configuration]?.[group]).toBe(1);
    expect(truth.assignments).toBe(1);
  });

  it('drops a request in flight when it suspends, and closes cleanly while suspended', async () => {
    emulator = await startEmulator({
      port: 0,
      certDir: mkdtempSync(join(tmpdir(), 'emulator-suspend-')),
      latencyMs: 500,
    });
    // A Graph request held by the latency: its connection goes with the suspend, and the late answer
    // finds no socket (the process must not crash on it).
    const inFlight = probe(emulator, '/beta/officeConfiguration/clientConfigurations');
    await new Promise((r) => setTimeout(r, 100));
    await emulator.suspend();
    expect(await inFlight).toBe('ECONNRESET');
    await new Promise((r) => setTimeout(r, 600));

    await emulator.close();
    await expect(emulator.resume()).rejects.toThrow(/closed/);
    emulator = undefined;
  });
});

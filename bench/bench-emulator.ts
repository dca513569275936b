import { join } from 'node:path';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { EmulatorControl } from '../emulator/control-client.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../emulator/emulator-server.js';

export interface BenchEmulator {
  emulator: RunningEmulator;
  control: EmulatorControl;
}

/**
 * An emulator in this process (so its CPU is the bench process's) that knows only the configurations
 * created through its control API, as the emulator will by default: a benchmark that forgot
 * `createConfigurations` fails here today rather than after that change. Its certificate lives in
 * `<dir>/emulator`.
 */
export async function startBenchEmulator(dir: string, options: EmulatorOptions = {}): Promise<BenchEmulator> {
  const emulator = await startEmulator({ port: 0, certDir: join(dir, 'emulator'), ...options });
  return { emulator, control: new EmulatorControl(emulator.origin, emulator.caCertPath) };
}

/** Creates, through the control API, every (tenant, configuration) the rows name. Returns how many. */
export async function createConfigurations(
  control: EmulatorControl,
  rows: readonly Pick<AssignmentRow, 'tenantId' | 'configurationId'>[],
): Promise<number> {
  const pairs = new Map<string, { tenantId: string; configurationId: string }>();
  for (const r of rows) pairs.set(`${r.tenantId}/${r.configurationId}`, r);
  const all = [...pairs.values()];
  // A few at a time: a fleet names a thousand, and the control API is the bench process's own server.
  for (let i = 0; i < all.length; i += 32) {
    await Promise.all(
      all
        .slice(i, i + 32)
        .map((p) => control.createConfiguration(p.tenantId, { id: p.configurationId, displayName: 'bench' })),
    );
  }
  return all.length;
}

/** A counter for a table cell: "—" when the emulator does not report it. */
export function statCell(value: number | undefined): string {
  return value === undefined ? '—' : String(value);
}

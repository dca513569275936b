import { join } from 'node:path';
import type { AssignmentRow } from '../lib/assignment-row.js';
import { EmulatorControl } from '../emulator/control-client.js';
import {
  startEmulator,
  type EmulatorOptions,
  type FaultRates,
  type RunningEmulator,
} from '../emulator/emulator-server.js';
import type { TenantStats } from '../emulator/emulator-stats.js';

/**
 * POST fault rates, with the kinds the emulator is gaining (503 without Retry-After, 502, 504). Today's
 * emulator ignores the kinds it does not know, so send them only when `emulatorNext()` says so.
 */
export type BenchFaultRates = FaultRates & {
  serviceUnavailableNoRetryAfter?: number;
  badGateway?: number;
  gatewayTimeout?: number;
};

/**
 * The emulator's options as the benchmarks pass them: today's, and the names being added
 * (`faultRetryAfterMs`, the Retry-After of fault 503s; `lenientConfigurations`, the way back to
 * "any GUID is a configuration" once strict is the default). The intersection keeps this file
 * compiling whether or not the emulator on the branch knows them yet.
 */
export type BenchEmulatorOptions = Omit<EmulatorOptions, 'faults'> & {
  faults?: BenchFaultRates;
  faultRetryAfterMs?: number;
  lenientConfigurations?: boolean;
  strictConfigurations?: boolean;
};

/**
 * `BENCH_EMULATOR_NEXT=1`: the emulator on this branch has the POST fault kinds
 * `serviceUnavailableNoRetryAfter`, `badGateway`, `gatewayTimeout`, the option `faultRetryAfterMs`
 * and the per-tenant stat `sentDuringRetryAfter`. Off (default): the benchmarks use only what today's
 * emulator has, and say what they folded.
 */
export function emulatorNext(): boolean {
  return process.env.BENCH_EMULATOR_NEXT === '1';
}

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
export async function startBenchEmulator(dir: string, options: BenchEmulatorOptions = {}): Promise<BenchEmulator> {
  const all: BenchEmulatorOptions = { port: 0, certDir: join(dir, 'emulator'), strictConfigurations: true, ...options };
  // The extra names pass through to an emulator that knows them; today's ignores them.
  const emulator = await startEmulator(all as EmulatorOptions);
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

/**
 * A per-tenant counter today's emulator may not have (`sentDuringRetryAfter`): its value, or
 * undefined when the emulator does not report it.
 */
export function optionalStat(stats: TenantStats | undefined, name: string): number | undefined {
  const value = (stats as unknown as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'number' ? value : undefined;
}

/** A counter for a table cell: "—" when the emulator does not report it. */
export function statCell(value: number | undefined): string {
  return value === undefined ? '—' : String(value);
}

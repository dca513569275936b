import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { EmulatorSettings } from './control-routes.js';
import type { FaultRates, RequestFaultRates } from './emulator-options.js';
import type { Group, Truth } from './emulator-state.js';
import type { StatsSnapshot } from './emulator-stats.js';
import type { ThrottleSpec } from './throttle-model.js';
import type { TokenFailureMode } from './token-service.js';

/**
 * A typed client for the control API (`/_emulator`), for tests and benchmarks that drive an emulator
 * running in another process. It trusts exactly the emulator's certificate (passed in, not taken
 * from NODE_EXTRA_CA_CERTS) so it works in a process that was started without that variable.
 */
export class EmulatorControl {
  private readonly ca: string;

  /** `origin` and `caCertPath` as in RunningEmulator; the certificate is read once, here. */
  constructor(
    private readonly origin: string,
    caCertPath: string,
  ) {
    this.ca = readFileSync(caCertPath, 'utf8');
  }

  truth(): Promise<Truth> {
    return this.call('GET', '/_emulator/truth');
  }

  /** Per-tenant counters; with `windowMs`, each tenant's most accepted writes in any window that long. */
  stats(windowMs?: number): Promise<StatsSnapshot> {
    return this.call('GET', windowMs === undefined ? '/_emulator/stats' : `/_emulator/stats?windowMs=${windowMs}`);
  }

  /** The behaviour in force: faults, throttles, Retry-After format, latency and the rest. */
  settings(): Promise<EmulatorSettings> {
    return this.call('GET', '/_emulator/settings');
  }

  /** Replaces every fault rate on assignment POSTs (kinds left out become 0). */
  setFaults(rates: FaultRates): Promise<Required<FaultRates>> {
    return this.call('PUT', '/_emulator/faults', rates);
  }

  /** Replaces the per-tenant write limit; null lifts it. */
  setRateLimit(limit: { max: number; windowMs: number } | null): Promise<{ max: number; windowMs: number } | null> {
    return this.call('PUT', '/_emulator/rate-limit', limit);
  }

  /** Replaces the global throttle (any model and signal); null lifts it. Tenants with their own keep theirs. */
  setThrottle(spec: ThrottleSpec | null): Promise<Required<ThrottleSpec> | null> {
    return this.call('PUT', '/_emulator/throttle', spec);
  }

  /** Puts one tenant under its own throttle; null puts it back under the global one. */
  setTenantThrottle(
    tenantId: string,
    spec: ThrottleSpec | null,
  ): Promise<{ tenantId: string; throttle: Required<ThrottleSpec> | null }> {
    return this.call('PUT', `/_emulator/tenants/${encodeURIComponent(tenantId)}/throttle`, spec);
  }

  /** Replaces every fault rate on Graph GETs (kinds left out become 0). */
  setReadFaults(rates: RequestFaultRates): Promise<Required<RequestFaultRates>> {
    return this.call('PUT', '/_emulator/read-faults', rates);
  }

  /** Replaces every fault rate on token requests (kinds left out become 0). */
  setTokenFaults(rates: RequestFaultRates): Promise<Required<RequestFaultRates>> {
    return this.call('PUT', '/_emulator/token-faults', rates);
  }

  setTokenOutage(on: boolean): Promise<{ on: boolean }> {
    return this.call('PUT', '/_emulator/token-outage', { on });
  }

  /** Makes the token endpoint fail every new token request in `mode` until set back to null. */
  setTokenFailure(mode: TokenFailureMode | null): Promise<{ mode: TokenFailureMode | null }> {
    return this.call('PUT', '/_emulator/token-failure', { mode });
  }

  createConfiguration(
    tenantId: string,
    fields: { id?: string; displayName?: string } = {},
  ): Promise<{ id: string; displayName: string; createdDateTime: string }> {
    return this.call('POST', `/_emulator/tenants/${encodeURIComponent(tenantId)}/configurations`, fields);
  }

  /**
   * Creates every configuration the rows name, once per (tenant, configuration), so a rollout of
   * them finds its configurations under strict configurations (the default). Existing ones stay.
   */
  async createConfigurations(rows: Iterable<{ tenantId: string; configurationId: string }>): Promise<number> {
    const pairs = new Map<string, { tenantId: string; configurationId: string }>();
    for (const { tenantId, configurationId } of rows) {
      pairs.set(`${tenantId.toLowerCase()}/${configurationId.toLowerCase()}`, { tenantId, configurationId });
    }
    for (const { tenantId, configurationId } of pairs.values()) {
      await this.createConfiguration(tenantId, { id: configurationId });
    }
    return pairs.size;
  }

  /** Creates an assignment as if it had existed before the client under test started. */
  createAssignment(
    tenantId: string,
    configurationId: string,
    groupId: string,
  ): Promise<{ id: string; tenantId: string; configurationId: string; groupId: string }> {
    const path = `/_emulator/tenants/${encodeURIComponent(tenantId)}/configurations/${encodeURIComponent(configurationId)}/assignments`;
    return this.call('POST', path, { groupId });
  }

  /** Creates a group Graph's GET /groups/{id} then answers with (or renames the one with that id). */
  createGroup(tenantId: string, fields: { id?: string; displayName: string }): Promise<Group> {
    return this.call('POST', `/_emulator/tenants/${encodeURIComponent(tenantId)}/groups`, fields);
  }

  /** Every read of the configuration's assignments answers `status` (e.g. 500) until set back to null. */
  setReadFailure(tenantId: string, configurationId: string, status: number | null): Promise<{ status: number | null }> {
    const path = `/_emulator/tenants/${encodeURIComponent(tenantId)}/configurations/${encodeURIComponent(configurationId)}/read-failure`;
    return this.call('PUT', path, { status });
  }

  /** Empties state and counters and restores the limits, faults and token service the emulator started with. */
  async reset(): Promise<void> {
    await this.call('POST', '/_emulator/reset');
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolveCall, rejectCall) => {
      const req = request(
        `${this.origin}${path}`,
        {
          method,
          ca: this.ca,
          headers:
            text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', rejectCall);
          res.on('end', () => {
            const answer = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              rejectCall(new Error(`control API ${method} ${path} answered ${status}: ${answer}`));
              return;
            }
            try {
              resolveCall(JSON.parse(answer) as T);
            } catch (error) {
              rejectCall(error as Error);
            }
          });
        },
      );
      req.on('error', rejectCall);
      req.end(text);
    });
  }
}

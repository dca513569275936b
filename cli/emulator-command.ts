import { Command, Option } from 'commander';
import { checkFaultRates } from '../emulator/fault-plan.js';
import {
  startEmulator,
  type EmulatorOptions,
  type FaultRates,
  type RunningEmulator,
} from '../emulator/emulator-server.js';
import {
  RETRY_AFTER_FORMATS,
  type FaultKind,
  type RequestFaultKind,
  type RequestFaultRates,
  type RetryAfterFormat,
} from '../emulator/emulator-options.js';
import { checkRequestFaultRates } from '../emulator/request-fault-plan.js';
import {
  THROTTLE_MODELS,
  THROTTLE_SIGNALS,
  type ThrottleModelName,
  type ThrottleSignal,
  type ThrottleSpec,
} from '../emulator/throttle-model.js';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { ErrorCodes } from '../lib/errors/codes.js';
import { UserError } from '../lib/errors/user-error.js';
import { parseRateLimit } from '../lib/rate-limit-spec.js';

/**
 * `assignments emulator`: runs the Graph + Entra ID emulator in the foreground until SIGINT or
 * SIGTERM. Option values arrive as text and are checked here, in one place, so every bad value
 * becomes a UserError naming its option instead of commander's own exit.
 */

/** The option values as commander hands them over. */
export interface RawEmulatorOptions {
  host: string;
  port: string;
  certDir: string;
  rateLimit?: string;
  throttleModel?: string;
  throttleSignal?: string;
  tenantThrottle?: string[];
  retryAfter: string;
  latencyMs: string;
  fault: string[];
  faultRetryAfter?: string;
  readFault?: string[];
  tokenFault?: string[];
  slowCommitMs: string;
  pageSize: string;
  /** The default since configurations became strict; still accepted so existing scripts keep working. */
  strictConfigurations?: boolean;
  lenientConfigurations?: boolean;
  clientSecret?: string;
  seed?: string;
  printEnv?: boolean;
}

/** The short fault names of `--read-fault` and `--token-fault`, as people write status codes and kinds. */
const REQUEST_FAULT_NAMES: Record<string, RequestFaultKind> = {
  '503': 'serviceUnavailable',
  '503-no-retry-after': 'serviceUnavailableNoRetryAfter',
  '500': 'internalError',
  '502': 'badGateway',
  '504': 'gatewayTimeout',
  reset: 'reset',
};

/** The short fault names of `--fault`: the request faults' and the two that commit. */
const FAULT_NAMES: Record<string, FaultKind> = {
  ...REQUEST_FAULT_NAMES,
  'commit-reset': 'commitThenReset',
  'slow-commit': 'slowCommit',
};

const repeatable = (value: string, previous: string[] = []): string[] => [...previous, value];

export function emulatorCommand(): Command {
  return new Command('emulator')
    .description('Run the Microsoft Graph + Entra ID emulator (HTTPS, self-signed certificate) until Ctrl-C.')
    .addOption(new Option('--host <host>', 'interface to listen on').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'TCP port; 0 picks a free one').default('8443'))
    .addOption(new Option('--cert-dir <dir>', 'directory for the generated certificate and key').default('./.emulator'))
    .addOption(new Option('--rate-limit <spec>', 'per-tenant write limit, e.g. 100/20s or 25/1s (unit ms, s or m)'))
    .addOption(
      new Option(
        '--throttle-model <model>',
        `how --rate-limit counts: ${THROTTLE_MODELS.join(', ')} (default sliding-writes)`,
      ),
    )
    .addOption(
      new Option('--throttle-signal <signal>', `how a throttled request is answered: ${THROTTLE_SIGNALS.join(', ')}`),
    )
    .addOption(
      new Option(
        '--tenant-throttle <tenant=model:max/window[:signal]>',
        'a throttle for one tenant instead of the global one, e.g. <tenant-guid>=fixed-window:100/20s:429 (repeatable)',
      ).argParser(repeatable),
    )
    .addOption(
      new Option('--retry-after <format>', `Retry-After format: ${RETRY_AFTER_FORMATS.join(', ')}`).default(
        'fractional',
      ),
    )
    .addOption(new Option('--latency-ms <n>', 'milliseconds added to every Graph response').default('0'))
    .addOption(
      new Option(
        '--fault <kind=rate...>',
        'fault rates on assignment POSTs, e.g. 503=0.05,503-no-retry-after=0.01,500=0.02,502=0.01,504=0.01,reset=0.02,commit-reset=0.02,slow-commit=0.02 (repeatable)',
      )
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .addOption(
      new Option(
        '--read-fault <kind=rate...>',
        'fault rates on Graph GETs, e.g. 503=0.05,503-no-retry-after=0.01,500=0.01,502=0.01,504=0.01,reset=0.01 (repeatable)',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--token-fault <kind=rate...>',
        'fault rates on token requests, same kinds as --read-fault (repeatable)',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--fault-retry-after <seconds>',
        'the Retry-After of 503 faults on POSTs, GETs and token requests, e.g. 2 or 0.5 (default 1)',
      ),
    )
    .addOption(
      new Option('--slow-commit-ms <n>', 'delay before a slow-commit fault creates its assignment').default('1500'),
    )
    .addOption(new Option('--page-size <n>', 'assignments per list page').default('100'))
    .addOption(
      new Option(
        '--lenient-configurations',
        'any configuration id exists, created on first use (default: only those created through the control API or Graph; others 404)',
      ),
    )
    .addOption(new Option('--strict-configurations').hideHelp())
    .addOption(new Option('--client-secret <secret>', 'the only client secret the token endpoint accepts'))
    .addOption(new Option('--seed <n>', 'seed for the fault dice (reproducible runs)'))
    .addOption(new Option('--print-env', 'print `export NAME=value` lines for a client shell on stdout'))
    .action(async (raw: RawEmulatorOptions) => {
      const { options, printEnv } = parseEmulatorOptions(raw);
      const emulator = await start(options);
      process.stderr.write(
        `emulator listening on ${emulator.origin} (Graph ${emulator.graphBaseUrl}, control ${emulator.origin}/_emulator); ` +
          `trust its certificate with NODE_EXTRA_CA_CERTS=${emulator.caCertPath}\n`,
      );
      if (printEnv) process.stdout.write(formatEnv(emulator.env()));
      await nextStopSignal();
      await emulator.close();
      process.exitCode = 0;
    });
}

/** Turns option text into EmulatorOptions; throws a UserError naming the first bad option. */
export function parseEmulatorOptions(raw: RawEmulatorOptions): { options: EmulatorOptions; printEnv: boolean } {
  if (raw.host.trim() === '') throw usage('--host must not be empty');
  const options: EmulatorOptions = {
    host: raw.host,
    port: integerOption('--port', raw.port, 0, 65_535),
    certDir: raw.certDir,
    retryAfterFormat: retryAfterOption(raw.retryAfter),
    latencyMs: integerOption('--latency-ms', raw.latencyMs, 0),
    faults: faultOption(raw.fault),
    slowCommitMs: integerOption('--slow-commit-ms', raw.slowCommitMs, 0),
    pageSize: integerOption('--page-size', raw.pageSize, 1, 999),
    strictConfigurations: raw.lenientConfigurations !== true,
  };
  if (raw.lenientConfigurations === true && raw.strictConfigurations === true) {
    throw usage('--lenient-configurations and --strict-configurations contradict each other: give one');
  }
  if (raw.rateLimit !== undefined) {
    let limit;
    try {
      limit = parseRateLimit(raw.rateLimit);
    } catch (error) {
      throw usage(`--rate-limit: ${(error as Error).message}`);
    }
    if (raw.throttleModel === undefined && raw.throttleSignal === undefined) options.rateLimit = limit;
    else {
      options.throttle = {
        model: raw.throttleModel === undefined ? 'sliding-writes' : modelOption('--throttle-model', raw.throttleModel),
        ...limit,
        signal: raw.throttleSignal === undefined ? '429' : signalOption('--throttle-signal', raw.throttleSignal),
      };
    }
  } else if (raw.throttleModel !== undefined || raw.throttleSignal !== undefined) {
    const flag = raw.throttleModel !== undefined ? '--throttle-model' : '--throttle-signal';
    throw usage(`${flag} needs --rate-limit <max>/<window> for the budget, e.g. --rate-limit 100/20s`);
  }
  if (raw.tenantThrottle !== undefined && raw.tenantThrottle.length > 0) {
    options.tenantThrottle = tenantThrottleOption(raw.tenantThrottle);
  }
  if (raw.faultRetryAfter !== undefined)
    options.faultRetryAfterMs = secondsOption('--fault-retry-after', raw.faultRetryAfter);
  if (raw.readFault !== undefined && raw.readFault.length > 0) {
    options.readFaults = requestFaultOption('--read-fault', raw.readFault);
  }
  if (raw.tokenFault !== undefined && raw.tokenFault.length > 0) {
    options.tokenFaults = requestFaultOption('--token-fault', raw.tokenFault);
  }
  if (raw.clientSecret !== undefined) {
    if (raw.clientSecret === '') throw usage('--client-secret must not be empty');
    options.clientSecret = raw.clientSecret;
  }
  if (raw.seed !== undefined) {
    if (!/^-?\d+$/.test(raw.seed) || !Number.isSafeInteger(Number(raw.seed))) {
      throw usage(`--seed must be an integer, got '${raw.seed}'`);
    }
    options.seed = Number(raw.seed);
  }
  return { options, printEnv: raw.printEnv === true };
}

/** `export NAME='value'` lines, single-quoted so any value survives `eval` in sh, bash or zsh. */
export function formatEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'\n`)
    .join('');
}

async function start(options: EmulatorOptions): Promise<RunningEmulator> {
  try {
    return await startEmulator(options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw usage(
        `--port ${String(options.port)} is already in use on ${String(options.host)}; choose another port (0 picks a free one)`,
      );
    }
    if (code === 'EACCES') {
      throw usage(
        `--port ${String(options.port)} on ${String(options.host)} needs privileges this user lacks; choose a port above 1023`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw usage(`--host ${String(options.host)} is not an address of this machine`);
    }
    throw error;
  }
}

function integerOption(name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw usage(`${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/** Seconds with at most millisecond precision, more than 0 and at most an hour, as milliseconds. */
function secondsOption(name: string, text: string): number {
  const ms = /^\d+(\.\d{1,3})?$/.test(text) ? Math.round(Number(text) * 1000) : NaN;
  if (!(ms >= 1 && ms <= 3_600_000)) {
    throw usage(`${name} must be seconds from 0.001 to 3600 (at most 3 decimals), got '${text}'`);
  }
  return ms;
}

function retryAfterOption(text: string): RetryAfterFormat {
  const format = RETRY_AFTER_FORMATS.find((candidate) => candidate === text);
  if (!format) throw usage(`--retry-after must be one of ${RETRY_AFTER_FORMATS.join(', ')}, got '${text}'`);
  return format;
}

function faultOption(values: string[]): FaultRates {
  const rates: FaultRates = {};
  for (const item of values
    .flatMap((value) => value.split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const match = /^([a-z0-9-]+)=(\d*\.?\d+)$/.exec(item);
    const kind = match?.[1] === undefined ? undefined : FAULT_NAMES[match[1]];
    if (!match || !kind) {
      throw usage(`--fault expects kind=rate with kind one of ${Object.keys(FAULT_NAMES).join(', ')}, got '${item}'`);
    }
    if (rates[kind] !== undefined) throw usage(`--fault names ${match[1]} twice`);
    rates[kind] = Number(match[2]);
  }
  try {
    checkFaultRates(rates);
  } catch (error) {
    throw usage(`--fault: ${(error as Error).message}`);
  }
  return rates;
}

function modelOption(flag: string, text: string): ThrottleModelName {
  const model = THROTTLE_MODELS.find((candidate) => candidate === text);
  if (!model) throw usage(`${flag} must be one of ${THROTTLE_MODELS.join(', ')}, got '${text}'`);
  return model;
}

function signalOption(flag: string, text: string): ThrottleSignal {
  const signal = THROTTLE_SIGNALS.find((candidate) => candidate === text);
  if (!signal) throw usage(`${flag} must be one of ${THROTTLE_SIGNALS.join(', ')}, got '${text}'`);
  return signal;
}

/** `<tenant>=<model>:<max>/<window>[:<signal>]`, one per value. */
function tenantThrottleOption(values: string[]): Record<string, ThrottleSpec> {
  const flag = '--tenant-throttle';
  const throttles: Record<string, ThrottleSpec> = {};
  for (const value of values) {
    const match = /^([^=]+)=([a-z-]+):([^:]+)(?::(.+))?$/.exec(value.trim());
    if (!match) throw usage(`${flag} expects <tenant>=<model>:<max>/<window>[:<signal>], got '${value}'`);
    const [, tenant = '', model = '', spec = '', signal] = match;
    if (!isObjectId(tenant)) throw usage(`${flag}: the tenant must be a GUID, got '${tenant}'`);
    const tenantId = normalizeObjectId(tenant);
    if (throttles[tenantId]) throw usage(`${flag} names tenant ${tenantId} twice`);
    let limit;
    try {
      limit = parseRateLimit(spec);
    } catch (error) {
      throw usage(`${flag} ${tenant}: ${(error as Error).message}`);
    }
    throttles[tenantId] = {
      model: modelOption(`${flag} ${tenant}: the model`, model),
      ...limit,
      signal: signal === undefined ? '429' : signalOption(`${flag} ${tenant}: the signal`, signal),
    };
  }
  return throttles;
}

function requestFaultOption(flag: string, values: string[]): RequestFaultRates {
  const rates: RequestFaultRates = {};
  for (const item of values
    .flatMap((value) => value.split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const match = /^([a-z0-9-]+)=(\d*\.?\d+)$/.exec(item);
    const kind = match?.[1] === undefined ? undefined : REQUEST_FAULT_NAMES[match[1]];
    if (!match || !kind) {
      throw usage(
        `${flag} expects kind=rate with kind one of ${Object.keys(REQUEST_FAULT_NAMES).join(', ')}, got '${item}'`,
      );
    }
    if (rates[kind] !== undefined) throw usage(`${flag} names ${match[1]} twice`);
    rates[kind] = Number(match[2]);
  }
  try {
    checkRequestFaultRates(rates, flag.slice(2));
  } catch (error) {
    throw usage(`${flag}: ${(error as Error).message}`);
  }
  return rates;
}

function usage(message: string): UserError {
  return new UserError(ErrorCodes.USAGE, message);
}

/** Resolves on the first SIGINT or SIGTERM, then stops listening for them. */
function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolveSignal(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

import { REQUEST_FAULT_KINDS, type RequestFaultKind, type RequestFaultRates } from './emulator-options.js';
import { mulberry32 } from './fault-plan.js';

/**
 * The fault die for requests that commit nothing: Graph GETs and token requests. Like FaultPlan, one
 * uniform draw per request against cumulative rates, seedable; it has its own sequence, so turning
 * read faults on does not shift which POSTs draw a fault.
 */
export class RequestFaultPlan {
  private rates: Required<RequestFaultRates>;
  private readonly random: () => number;

  /** `what` names the rates in errors (`read fault`, `token fault`). */
  constructor(
    rates: RequestFaultRates = {},
    seed?: number,
    private readonly what = 'request fault',
  ) {
    this.rates = checkRequestFaultRates(rates, what);
    this.random = seed === undefined ? Math.random : mulberry32(seed);
  }

  /** Replaces every rate (kinds not given become 0). Throws on rates outside 0..1 or summing above 1. */
  setRates(rates: RequestFaultRates): void {
    this.rates = checkRequestFaultRates(rates, this.what);
  }

  currentRates(): Required<RequestFaultRates> {
    return { ...this.rates };
  }

  /** The fault for the next request, or undefined for a normal answer. */
  decide(): RequestFaultKind | undefined {
    if (REQUEST_FAULT_KINDS.every((kind) => this.rates[kind] === 0)) return undefined;
    const roll = this.random();
    let cumulative = 0;
    for (const kind of REQUEST_FAULT_KINDS) {
      cumulative += this.rates[kind];
      if (roll < cumulative) return kind;
    }
    return undefined;
  }
}

/** Fills missing kinds with 0 and refuses impossible rates with a message naming the culprit. */
export function checkRequestFaultRates(rates: RequestFaultRates, what = 'request fault'): Required<RequestFaultRates> {
  const full = Object.fromEntries(REQUEST_FAULT_KINDS.map((kind) => [kind, 0])) as Required<RequestFaultRates>;
  let sum = 0;
  for (const kind of REQUEST_FAULT_KINDS) {
    const rate = rates[kind] ?? 0;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new Error(`${what} rate ${kind} must be a number from 0 to 1, got ${String(rate)}`);
    }
    full[kind] = rate;
    sum += rate;
  }
  if (sum > 1 + 1e-9) throw new Error(`${what} rates must sum to at most 1 (one die per request), got ${sum}`);
  return full;
}

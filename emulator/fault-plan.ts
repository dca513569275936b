import { FAULT_KINDS, type FaultKind, type FaultRates } from './emulator-options.js';

/**
 * Decides, one request at a time, whether an assignment POST fails and how. A single uniform draw is
 * compared against the cumulative rates, so the kinds are mutually exclusive and a rate of 0.05 means
 * 5 % of requests, whatever the other rates are. With a seed the sequence of decisions repeats, which
 * is what lets a test assert "the third POST is reset".
 */
export class FaultPlan {
  private rates: Required<FaultRates>;
  private readonly random: () => number;

  constructor(rates: FaultRates = {}, seed?: number) {
    this.rates = checkFaultRates(rates);
    this.random = seed === undefined ? Math.random : mulberry32(seed);
  }

  /** Replaces every rate (kinds not given become 0). Throws on rates outside 0..1 or summing above 1. */
  setRates(rates: FaultRates): void {
    this.rates = checkFaultRates(rates);
  }

  currentRates(): Required<FaultRates> {
    return { ...this.rates };
  }

  /** The fault for the next request, or undefined for a normal answer. */
  decide(): FaultKind | undefined {
    // Skip the draw when nothing can fail so seeded sequences only advance on requests that matter.
    if (FAULT_KINDS.every((kind) => this.rates[kind] === 0)) return undefined;
    const roll = this.random();
    let cumulative = 0;
    for (const kind of FAULT_KINDS) {
      cumulative += this.rates[kind];
      if (roll < cumulative) return kind;
    }
    return undefined;
  }
}

/** Fills missing kinds with 0 and refuses impossible rates with a message naming the culprit. */
export function checkFaultRates(rates: FaultRates): Required<FaultRates> {
  const full = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Required<FaultRates>;
  let sum = 0;
  for (const kind of FAULT_KINDS) {
    const rate = rates[kind] ?? 0;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new Error(`fault rate ${kind} must be a number from 0 to 1, got ${String(rate)}`);
    }
    full[kind] = rate;
    sum += rate;
  }
  // A little slack for sums like 0.1 + 0.2 that floating point lands just above the real value.
  if (sum > 1 + 1e-9) {
    throw new Error(`fault rates must sum to at most 1 (one die per request), got ${sum}`);
  }
  return full;
}

/** A small, well-known 32-bit PRNG: good enough for fault dice, and identical on every platform. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

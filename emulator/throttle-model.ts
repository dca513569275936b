/**
 * The shapes of throttling the emulator can play, and the contract each shape keeps. Graph's services
 * throttle differently (Intune a fixed budget per 20 s, others token buckets or sliding windows) and
 * signal it differently (429 with or without Retry-After, or 503), so a client must be right on all
 * of them; the emulator plays one per tenant.
 */

/**
 * `sliding-writes`: writes in any sliding window (the default); `token-bucket`: every request;
 * `fixed-window`: writes per fixed window.
 */
export type ThrottleModelName = 'sliding-writes' | 'token-bucket' | 'fixed-window';

export const THROTTLE_MODELS: readonly ThrottleModelName[] = ['sliding-writes', 'token-bucket', 'fixed-window'];

/** How a throttled request is answered: 429 + Retry-After, 429 without it, or 503 ServiceUnavailable + Retry-After. */
export type ThrottleSignal = '429' | '429-no-retry-after' | '503';

export const THROTTLE_SIGNALS: readonly ThrottleSignal[] = ['429', '429-no-retry-after', '503'];

/** Graph GETs are reads; POST and DELETE are writes. */
export type RequestKind = 'read' | 'write';

export const REQUEST_KINDS: readonly RequestKind[] = ['read', 'write'];

/** One throttle: its shape, its budget (`max` per `windowMs`) and how it says no. */
export interface ThrottleSpec {
  model: ThrottleModelName;
  /** Budget per window; for `token-bucket` the bucket's capacity. A positive integer. */
  max: number;
  /** Window length in milliseconds; for `token-bucket` the time to refill `max` tokens. */
  windowMs: number;
  /** Default `429`. */
  signal?: ThrottleSignal;
}

/**
 * A per-tenant throttle. Checking and recording are separate steps because only requests that are
 * actually accepted take budget (a 400 or a 404 write does not), and the caller knows that only
 * after validating the request. Both run in one synchronous stretch, so nothing slips in between.
 */
export interface ThrottleModel {
  readonly name: ThrottleModelName;
  /** Whether requests of this kind take budget (and so can be throttled) under this model. */
  counts(kind: RequestKind): boolean;
  /** 0 when the tenant's request of this kind may go now, otherwise the milliseconds until it may. */
  waitMs(tenantId: string, kind: RequestKind): number;
  /** Takes budget for an accepted request (a no-op for kinds the model does not count). */
  record(tenantId: string, kind: RequestKind): void;
}

/** A spec with its signal filled in, checked: RangeError naming `field` (e.g. `throttle.max`) otherwise. */
export function checkThrottleSpec(spec: ThrottleSpec, field: string): Required<ThrottleSpec> {
  if (typeof spec !== 'object' || spec === null) throw new RangeError(`${field} must be an object`);
  if (!THROTTLE_MODELS.includes(spec.model)) {
    throw new RangeError(`${field}.model must be one of ${THROTTLE_MODELS.join(', ')}, got '${String(spec.model)}'`);
  }
  for (const key of ['max', 'windowMs'] as const) {
    const value = spec[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${field}.${key} must be a positive integer, got ${String(value)}`);
    }
  }
  const signal = spec.signal ?? '429';
  if (!THROTTLE_SIGNALS.includes(signal)) {
    throw new RangeError(`${field}.signal must be one of ${THROTTLE_SIGNALS.join(', ')}, got '${String(signal)}'`);
  }
  return { model: spec.model, max: spec.max, windowMs: spec.windowMs, signal };
}

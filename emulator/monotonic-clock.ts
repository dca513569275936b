import { performance } from 'node:perf_hooks';

/**
 * Milliseconds on a clock that never goes backwards. Rate windows and write timestamps use it so a
 * wall-clock adjustment (NTP, a laptop waking up) cannot open or close a window early.
 */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

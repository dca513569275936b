import { rolloutPace, type PaceResult } from './rollout-pace.js';

/**
 * `npm run bench`: every benchmark, each printed against its baseline from the same run.
 *
 * Pace: 500 rows for one tenant against an emulator that allows 25 writes/s, two workers. The
 * baseline is the ideal: the first window's 25 rows at once, then 25 per second (19 s); the ratio
 * is ideal / measured (1.00 = as fast as the limit allows).
 */
const rows = Number(process.env.BENCH_ROWS ?? 500);
const results: PaceResult[] = [];
for (const configured of [true, false]) {
  const r = await rolloutPace({ rows, max: 25, windowMs: 1000, configured });
  results.push(r);
}
console.log(`\nrollout pace: ${rows} rows, one tenant, emulator limit 25 writes/s, 2 workers`);
console.log('| mode | time (s) | ideal (s) | ideal/time | rows/s | 429s | max writes in any 1 s | duplicates | failed |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.label} | ${r.seconds.toFixed(1)} | ${r.idealSeconds.toFixed(1)} | ${r.ratioToIdeal.toFixed(2)} | ${(r.rows / r.seconds).toFixed(1)} | ${r.throttled} | ${r.maxWritesInWindow} | ${r.duplicates} | ${r.failed} |`,
  );
}

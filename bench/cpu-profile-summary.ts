import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where CPU time went, from one or more V8 `.cpuprofile` files (`node --cpu-prof`). */
export interface CpuProfileSummary {
  /** Sampled milliseconds, idle included. */
  totalMs: number;
  /** Self time per place: a package under node_modules, a directory of ours, node internals, GC, idle. */
  byPlace: { place: string; ms: number }[];
  /** Self time per function, the heaviest first. */
  byFunction: { fn: string; ms: number }[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Every `.cpuprofile` in `dir`, summed: one per worker process of a run. */
export function summarizeCpuProfiles(dir: string): CpuProfileSummary {
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalUs = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < profile.samples.length; i++) {
      const node = nodes.get(profile.samples[i]!);
      const us = profile.timeDeltas[i] ?? 0;
      if (!node) continue;
      totalUs += us;
      const { functionName, url, lineNumber } = node.callFrame;
      const place = placeOf(url, functionName);
      byPlace.set(place, (byPlace.get(place) ?? 0) + us);
      const fn = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    }
  }
  const sorted = <K extends string>(m: Map<string, number>, key: K) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ [key]: name, ms: us / 1000 }) as Record<K, string> & { ms: number });
  return { totalMs: totalUs / 1000, byPlace: sorted(byPlace, 'place'), byFunction: sorted(byFunction, 'fn') };
}

/**
 * Busy time (idle excluded) by concern: each sample goes to the first of `concerns` whose pattern
 * matches any frame of its stack (`functionName url:line`), or to `other`. Stacks end at the last
 * await, so work resumed after one counts where it resumed, not where it was started.
 */
export function cpuByConcern(
  dir: string,
  concerns: [label: string, frame: RegExp][],
): { busyMs: number; concerns: { concern: string; ms: number }[] } {
  const totals = new Map<string, number>([...concerns.map(([label]) => [label, 0] as [string, number]), ['other', 0]]);
  let busyUs = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parents = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
    const concernOf = new Map<number, string>();
    const classify = (id: number): string => {
      const known = concernOf.get(id);
      if (known !== undefined) return known;
      const frames: string[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
        const { functionName, url, lineNumber } = nodes.get(at)!.callFrame;
        frames.push(`${functionName} ${shortUrl(url)}:${lineNumber + 1}`);
      }
      const concern = concerns.find(([, frame]) => frames.some((f) => frame.test(f)))?.[0] ?? 'other';
      concernOf.set(id, concern);
      return concern;
    };
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      if (nodes.get(id)?.callFrame.functionName === '(idle)') continue;
      const us = profile.timeDeltas[i] ?? 0;
      busyUs += us;
      const concern = classify(id);
      totals.set(concern, (totals.get(concern) ?? 0) + us);
    }
  }
  return {
    busyMs: busyUs / 1000,
    concerns: [...totals].map(([concern, us]) => ({ concern, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
  };
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, '');
}

/** `bullmq`, `@azure/msal-node`, `dist/worker`, `node:internal/…`, or V8's own `(garbage collector)`, `(idle)`… */
function placeOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1]!;
  const ours = /\/dist\/(.+)\/[^/]+\.js$/.exec(url);
  if (ours) return `ours: ${ours[1]!}/`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GNU_TIME = '/usr/bin/time';
const PRELOAD = fileURLToPath(new URL('./report-max-rss.js', import.meta.url));

/** How to run `node <args>` so that its peak RSS can be read from its stderr afterwards. */
export interface PeakRssProbe {
  /** `time -v` (GNU time) or `resourceUsage` (a preload that prints process.resourceUsage().maxRSS). */
  source: string;
  command: string;
  args(nodeArgs: string[]): string[];
  /** Peak RSS in bytes, read from the child's stderr; undefined if it is not there. */
  read(stderr: string): number | undefined;
}

/**
 * GNU time measures the child from outside, so nothing in the process under test changes; where it
 * is missing (macOS's time has no -v, slim containers have none), or `prefer` is 'preload', a preload
 * reports the same figure from inside.
 */
export function peakRssProbe(prefer: 'time' | 'preload' = 'time'): PeakRssProbe {
  const probe =
    prefer === 'time' ? spawnSync(GNU_TIME, ['-v', process.execPath, '-e', '0'], { encoding: 'utf8' }) : undefined;
  if (probe?.status === 0 && /Maximum resident set size \(kbytes\)/.test(probe.stderr)) {
    return {
      source: 'GNU time -v',
      command: GNU_TIME,
      args: (nodeArgs) => ['-v', process.execPath, ...nodeArgs],
      read: (stderr) => kilobytes(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)),
    };
  }
  return {
    source: 'process.resourceUsage().maxRSS',
    command: process.execPath,
    args: (nodeArgs) => ['--import', PRELOAD, ...nodeArgs],
    read: (stderr) => kilobytes(/max-rss-kb (\d+)/.exec(stderr)),
  };
}

function kilobytes(match: RegExpExecArray | null): number | undefined {
  return match ? Number(match[1]) * 1024 : undefined;
}

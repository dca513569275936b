import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { defineLoadedLuaScripts, defineLuaScript, loadLuaScript } from '../../lib/redis/lua-script.js';
import { laneAdmitArgs, laneReleaseArgs, laneThrottledArgs } from '../../lib/lanes/lane-scripts.js';
import { recordOutcomeArgs, takeForRetryArgs } from '../../lib/rollout/rollout-scripts.js';
import { foldRetiredMetricsArgs } from '../../lib/metrics/fold-retired-metrics.js';
import { ifValueUnchangedArgs } from '../../lib/redis/if-value-unchanged.js';
import { rowStateArgs } from '../../worker/row-state.js';
import { RedisKeys } from '../../lib/redis/redis-keys.js';

const root = new URL('../../', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'lua-scripts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function luaFile(name: string, text: string): URL {
  const path = join(dir, name);
  writeFileSync(path, text);
  return pathToFileURL(path);
}

describe('the Lua script loader', () => {
  it('loads every .lua file of the source folders: a key count in its name, and a header naming exactly those KEYS', () => {
    const files = ['lib', 'worker', 'producer', 'cli', 'server', 'emulator', 'bench'].flatMap((folder) =>
      readdirSync(new URL(`${folder}/`, root), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.lua'))
        .map((f) => `${folder}/${f}`),
    );
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const file of files) {
      const script = loadLuaScript('x', new URL(file, root));
      expect(script.numberOfKeys, file).toBeGreaterThan(0);
      expect(script.lua, file).toMatch(/^--\[\[\n/);
      // Scripts compute no key names: Redis Cluster needs every key a script touches in KEYS.
      expect(script.lua, file).not.toMatch(/redis\.call\(\s*'[A-Z]+',\s*[^K\s]/);
    }
  });

  it('takes the key count from the file name', () => {
    const script = loadLuaScript(
      'two',
      luaFile('two-2.lua', '--[[\n  KEYS[1] a\n  KEYS[2] b\n  ARGV[1] c\n]]\nreturn 1\n'),
    );
    expect(script).toMatchObject({ name: 'two', numberOfKeys: 2 });
  });

  it('refuses a file without a key count, without a header, or whose header names other KEYS', () => {
    expect(() => loadLuaScript('x', luaFile('nokeys.lua', '--[[\n  KEYS[1] a\n]]\n'))).toThrow(/-<numberOfKeys>\.lua/);
    expect(() => loadLuaScript('x', luaFile('bare-1.lua', 'return 1\n'))).toThrow(/header/);
    expect(() => loadLuaScript('x', luaFile('short-2.lua', '--[[\n  KEYS[1] a\n]]\nreturn 1\n'))).toThrow(
      /KEYS\[1\].*2 key/,
    );
    expect(() => loadLuaScript('x', luaFile('long-1.lua', '--[[\n  KEYS[1] a\n  KEYS[2] b\n]]\nreturn 1\n'))).toThrow(
      /1 key/,
    );
  });

  it('defines a script once per connection, and never a second script under the same name', () => {
    const defined: string[] = [];
    const connection = () => ({ options: {}, defineCommand: (name: string) => defined.push(name) }) as unknown as Redis;
    const a = connection();
    const b = connection();
    const one = loadLuaScript('one', luaFile('one-1.lua', '--[[\n  KEYS[1] a\n]]\nreturn 1\n'));
    const other = loadLuaScript('one', luaFile('other-1.lua', '--[[\n  KEYS[1] a\n]]\nreturn 2\n'));
    defineLuaScript(a, one);
    defineLuaScript(a, one);
    defineLuaScript(b, one);
    expect(defined).toEqual(['one', 'one']);
    expect(() => defineLuaScript(a, other)).toThrow(/already defined as one/);
  });

  it('gives an auto-pipelining connection every script loaded so far up front, and refuses one loaded later', () => {
    const defined: string[] = [];
    const connection = {
      options: { enableAutoPipelining: true },
      defineCommand: (name: string) => defined.push(name),
    } as unknown as Redis;
    // The modules imported above loaded the application's scripts.
    defineLoadedLuaScripts(connection);
    expect(defined).toEqual(expect.arrayContaining(['laneAdmit', 'recordOutcome', 'ifValueUnchanged']));
    const count = defined.length;
    defineLoadedLuaScripts(connection);
    expect(defined).toHaveLength(count);
    const late = loadLuaScript('late', luaFile('late-1.lua', '--[[\n  KEYS[1] a\n]]\nreturn 1\n'));
    expect(() => defineLuaScript(connection, late)).toThrow(/late: loaded after this auto-pipelining connection/);
  });
});

/**
 * The argument builders put each named value where its script reads it: these are the positions
 * the scripts' headers list (and the call sites used before the builders existed).
 */
describe('the scripts’ arguments', () => {
  it('lane admit: 4 keys, then 16 ARGV, absent marker and count standing in with the lane key', () => {
    const keys = { lane: 'L', schedule: 'S', marker: 'M', count: 'C' };
    const args = {
      nowMs: 1000,
      owner: 'job',
      max: 5,
      windowMs: 1025,
      toleranceMs: 2,
      markerValue: 'sent|r|',
      markerTtlMs: 60_000,
      holdMs: 5000,
      halvingMs: 8000,
      countField: 'row',
      countTtlMs: 70_000,
      ahead: true,
      exclusiveMarker: true,
      keepMs: 60_000,
      counted: true,
      accepted: 3,
    };
    expect(laneAdmitArgs(keys, args)).toEqual([
      'L',
      'S',
      'M',
      'C',
      '1000',
      'job',
      '5',
      '1025',
      '2',
      'sent|r|',
      '60000',
      '5000',
      '8000',
      'row',
      '70000',
      '1',
      '1',
      '60000',
      '1',
      '3',
    ]);
    const bare = laneAdmitArgs(
      { lane: 'L', schedule: 'S' },
      {
        ...args,
        markerValue: undefined,
        markerTtlMs: undefined,
        countField: undefined,
        countTtlMs: undefined,
        ahead: undefined,
        exclusiveMarker: undefined,
        counted: false,
        accepted: 0,
      },
    );
    expect(bare).toEqual([
      'L',
      'S',
      'L',
      'L',
      '1000',
      'job',
      '5',
      '1025',
      '2',
      '',
      '0',
      '5000',
      '8000',
      '',
      '0',
      '0',
      '0',
      '60000',
      '0',
      '0',
    ]);
  });

  it('lane throttled: 2 keys, then 13 ARGV; no Retry-After is -1, a Retry-After is rounded and never negative', () => {
    const args = {
      nowMs: 5000,
      retryAfterMs: 1234.6 as number | undefined,
      adaptive: true,
      sentAtMs: 4000,
      estimateMargin: 1.03,
      minSendsToLearn: 3,
      maxLearnedWindowMs: 600_000,
      baseDelayMs: 1000,
      random: 0.25,
      maxBackoffMs: 300_000,
      holdMs: 5000,
      halvingMs: 8000,
      accepted: 2,
    };
    const keys = { lane: 'L', schedule: 'S' };
    expect(laneThrottledArgs(keys, args)).toEqual([
      'L',
      'S',
      '5000',
      '1235',
      '1',
      '4000',
      '1.03',
      '3',
      '600000',
      '1000',
      '0.25',
      '300000',
      '5000',
      '8000',
      '2',
    ]);
    expect(laneThrottledArgs(keys, { ...args, retryAfterMs: undefined, adaptive: false })[3]).toBe('-1');
    expect(laneThrottledArgs(keys, { ...args, retryAfterMs: undefined, adaptive: false })[4]).toBe('0');
    expect(laneThrottledArgs(keys, { ...args, retryAfterMs: -5 })[3]).toBe('0');
  });

  it('lane release: 2 keys, then the owners', () => {
    expect(laneReleaseArgs({ lane: 'L', schedule: 'S' }, ['a', 'b'])).toEqual(['L', 'S', 'a', 'b']);
  });

  it('record outcome: 4 keys, then 9 ARGV', () => {
    const keys = { outcomes: 'O', rollout: 'R', marker: 'M', rows: 'W' };
    const args = {
      rowKey: 't/c/g',
      outcomeJson: '{}',
      counter: 'created',
      markerAction: 'assigned' as const,
      markerValue: 'assigned|x',
      retentionMs: 86_400_000,
      rolloutId: 'r1',
      finishedAt: '2025-01-01T00:00:00.000Z',
      tenantId: 't',
    };
    expect(recordOutcomeArgs(keys, args)).toEqual([
      'O',
      'R',
      'M',
      'W',
      't/c/g',
      '{}',
      'created',
      'assigned',
      'assigned|x',
      '86400000',
      'r1',
      '2025-01-01T00:00:00.000Z',
      't',
    ]);
  });

  it('take for retry: 3 keys, kind, counter, then row key and row number pairs', () => {
    const call = takeForRetryArgs(
      { outcomes: 'O', rollout: 'R', history: 'H' },
      {
        kind: 'failed',
        counter: 'failed',
        rows: [
          ['t/c/a', 1000],
          ['t/c/b', 1001],
        ],
      },
    );
    expect(call).toEqual(['O', 'R', 'H', 'failed', 'failed', 't/c/a', '1000', 't/c/b', '1001']);
  });

  it('fold retired metrics: 3 keys, then the sum’s SHA-1, the new sum and the worker id', () => {
    expect(
      foldRetiredMetricsArgs(
        { retired: 'A', liveSnapshot: 'B', workers: 'C' },
        { sha1Hex: 'da39', sum: '[]', workerId: 'w' },
      ),
    ).toEqual(['A', 'B', 'C', 'da39', '[]', 'w']);
  });

  it('if value unchanged: the key, the expected value, the action and its operand', () => {
    expect(ifValueUnchangedArgs('K', 'sent|r|1', { action: 'set', value: 'ended|r|2' })).toEqual([
      'K',
      'sent|r|1',
      'set',
      'ended|r|2',
    ]);
    expect(ifValueUnchangedArgs('K', 'job', { action: 'del' })).toEqual(['K', 'job', 'del']);
    expect(ifValueUnchangedArgs('K', 'job', { action: 'pexpire', ttlMs: 60_000 })).toEqual([
      'K',
      'job',
      'pexpire',
      '60000',
    ]);
  });

  it('row state: the outcomes, marker, listing, attempts and rollout keys, then the row key, group and listing fields', () => {
    const row = { rolloutId: 'r', tenantId: 't', configurationId: 'c', groupId: 'g' };
    expect(rowStateArgs(new RedisKeys('P'), row, 't/c/g')).toEqual([
      'P:rollout:r:outcomes',
      'P:marker:t/c/g',
      'P:listing:t:c',
      'P:rollout:r:attempts',
      'P:rollout:r',
      't/c/g',
      'g',
      '_status',
      '_startedAt',
    ]);
  });
});

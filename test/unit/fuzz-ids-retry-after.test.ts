import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RetryAfterFormat } from '../../emulator/emulator-options.js';
import { formatRetryAfter } from '../../emulator/retry-after.js';
import { parseRetryAfter, MAX_RETRY_AFTER_MS } from '../../lib/graph/retry-after.js';
import { isObjectId, normalizeObjectId } from '../../lib/object-id.js';
import { rowValidator } from '../../producer/row-validation.js';
import { UniqueRows } from '../../producer/unique-rows.js';

/**
 * Properties of the two small parsers that stand between the outside world and a request: object ids
 * (the only user text that reaches a Graph URL) and Retry-After (the only server text that decides how
 * long a row or a whole tenant lane waits). Set FC_SEED to replay a failure.
 */

const seed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };
const NORMALIZED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length, maxLength: length });
/** A GUID in any letter case. */
const anyCaseGuid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join('-'));
/** Strings near the GUID shape: the ones a hand-rolled check gets wrong. */
const nearGuid = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  anyCaseGuid.chain((g) =>
    fc.oneof(
      fc
        .nat({ max: g.length - 1 })
        .chain((i) =>
          fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).map((ch) => g.slice(0, i) + ch + g.slice(i + 1)),
        ),
      fc.constantFrom(
        `{${g}}`,
        g.replaceAll('-', ''),
        ` ${g}`,
        `${g}\n`,
        `${g}/`,
        `${g}/../x`,
        `${g}?x=1`,
        g.slice(1),
        `${g}0`,
      ),
    ),
  ),
);

describe('object ids', () => {
  it('accepts exactly the hyphenated 8-4-4-4-12 hex GUIDs, in any case', () => {
    fc.assert(
      fc.property(fc.oneof(anyCaseGuid, nearGuid), (value) => {
        expect(isObjectId(value)).toBe(NORMALIZED.test(value.toLowerCase()));
      }),
      { numRuns: 2000, ...seed },
    );
  });

  it('normalizes an accepted id to its lower-case form, idempotently, and the result is still an id', () => {
    fc.assert(
      fc.property(anyCaseGuid, (value) => {
        expect(isObjectId(value)).toBe(true);
        const normalized = normalizeObjectId(value);
        expect(normalized).toMatch(NORMALIZED);
        expect(normalized).toBe(value.toLowerCase());
        expect(normalizeObjectId(normalized)).toBe(normalized);
        expect(isObjectId(normalized)).toBe(true);
      }),
      { numRuns: 1000, ...seed },
    );
  });

  it('never lets an accepted id carry a character that could change a URL path or query', () => {
    fc.assert(
      fc.property(nearGuid, (value) => {
        if (isObjectId(value)) expect(encodeURIComponent(value)).toBe(value);
      }),
      { numRuns: 2000, ...seed },
    );
  });

  it('validates rows to normalized ids or to problems, never both, never a throw', () => {
    const field = fc.oneof(
      fc.constant(undefined),
      anyCaseGuid.map((g) => ` ${g}\t`),
      nearGuid,
      fc.string({ maxLength: 5 }).map((problem) => ({ problem: `given: ${problem}` })),
    );
    fc.assert(
      fc.property(
        fc.option(fc.oneof(anyCaseGuid, nearGuid)),
        field,
        field,
        field,
        (defaultTenant, configurationId, groupId, tenantId) => {
          const result = rowValidator(defaultTenant ?? undefined)({ configurationId, groupId, tenantId });
          if ('row' in result) {
            expect(result.row.configurationId).toMatch(NORMALIZED);
            expect(result.row.groupId).toMatch(NORMALIZED);
            expect(result.row.tenantId).toMatch(NORMALIZED);
            expect(Object.keys(result.row).sort()).toEqual(['configurationId', 'groupId', 'tenantId']);
          } else {
            expect(result.problems.length).toBeGreaterThan(0);
            for (const problem of result.problems) expect(typeof problem).toBe('string');
          }
        },
      ),
      { numRuns: 3000, ...seed },
    );
  });

  it('packs normalized rows losslessly and de-duplicates them exactly as their keys would', () => {
    const lower = anyCaseGuid.map((g) => g.toLowerCase());
    const pool = fc.array(lower, { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        pool,
        pool,
        pool,
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 40 }),
        (ts, cs, gs, picks) => {
          const rows = picks.map(([t, c, g]) => ({
            tenantId: ts[t % ts.length]!,
            configurationId: cs[c % cs.length]!,
            groupId: gs[g % gs.length]!,
          }));
          const packed = new UniqueRows();
          const added = rows.map((r) => packed.add(r));
          const firstSeen = new Map(
            rows.map((r) => [`${r.tenantId}/${r.configurationId}/${r.groupId}`, r] as const).reverse(),
          );
          expect(packed.size).toBe(firstSeen.size);
          expect(added.filter(Boolean).length).toBe(firstSeen.size);
          const unique = rows.filter(
            (r, i) =>
              rows.findIndex(
                (o) => o.tenantId === r.tenantId && o.configurationId === r.configurationId && o.groupId === r.groupId,
              ) === i,
          );
          expect([...packed]).toEqual(unique);
        },
      ),
      { numRuns: 500, ...seed },
    );
  });
});

describe('Retry-After parsing', () => {
  const now = fc.integer({ min: 0, max: 4_102_444_800_000 }); // up to 2100-01-01
  const headerText = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.stringMatching(/^\s*\d{1,400}(\.\d{0,20})?\s*$/),
    fc.double().map(String),
    fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toUTCString())),
    // Digits alone are delta-seconds, however many: 400 of them overflow a double.
    fc.constantFrom(
      '9'.repeat(400),
      `1${'0'.repeat(308)}`,
      '99999999999999999999',
      'Infinity',
      '-1',
      '1e3',
      '0x10',
      'NaN',
      '١٢',
      'Thu, 01 Jan 1970 00:00:00 GMT',
      'Fri, 31 Dec 9999 23:59:59 GMT',
      'Wed, 21 Oct 2015 07:28:00 GMT',
    ),
  );

  it('never throws on any header value, and gives a finite non-negative delay or undefined', () => {
    fc.assert(
      fc.property(
        fc.oneof(headerText, fc.array(headerText, { maxLength: 3 }), fc.constant(undefined)),
        now,
        (value, nowMs) => {
          const delay = parseRetryAfter(value, nowMs);
          if (delay !== undefined) {
            expect(Number.isFinite(delay), `Retry-After ${JSON.stringify(value)?.slice(0, 60)} gave ${delay}`).toBe(
              true,
            );
            expect(delay).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 5000, ...seed },
    );
  });

  it('reads back what the emulator writes, never shorter than the wait and at most a second longer', () => {
    const formats: RetryAfterFormat[] = ['fractional', 'seconds', 'date', 'none'];
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: MAX_RETRY_AFTER_MS - 2000, noNaN: true }),
        fc.constantFrom(...formats),
        now,
        (waitMs, format, nowMs) => {
          const header = formatRetryAfter(waitMs, format, nowMs);
          const parsed = parseRetryAfter(header, nowMs);
          if (format === 'none') {
            expect(header).toBeUndefined();
            expect(parsed).toBeUndefined();
            return;
          }
          expect(parsed, `${format} ${header}`).toBeDefined();
          // The emulator rounds every shape up to at least 1 ms, so a client that waits what it reads finds the slot
          // free.
          expect(parsed!).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(waitMs)));
          const slack = format === 'fractional' ? 1 : 1000;
          expect(parsed!).toBeLessThanOrEqual(Math.max(1, Math.ceil(waitMs)) + slack);
        },
      ),
      { numRuns: 3000, ...seed },
    );
  });
});

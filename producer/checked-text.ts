import { isUtf8 } from 'node:buffer';

/** Default cap on one physical line of input, in bytes (1 MiB). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Why the input stops being readable as text, and on which line. Nothing after it is read. */
export interface TextFault {
  line: number;
  problem: string;
}

/**
 * Either the next piece of checked text, as valid UTF-8 bytes that decode on their own (never a
 * split character), or the fault that ends the input.
 */
export type CheckedText = { bytes: Buffer } | { fault: TextFault };

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface CheckedTextOptions {
  /** Longest accepted line, in bytes; default 1 MiB. */
  maxLineBytes?: number;
  /**
   * 'whole' (default): text comes out in whole lines and a line over maxLineBytes is a fault.
   * 'any-length': no line cap, text comes out as it arrives (cut between characters), for a reader
   * that does not depend on lines and bounds its own memory (the JSON scanner, per item).
   */
  lines?: 'whole' | 'any-length';
}

/**
 * Stops binary data (NUL bytes, invalid UTF-8, UTF-16) and over-long lines before any parser sees
 * them, at a known line, so a parser can neither buffer megabytes nor misreport them.
 *
 * In 'whole' mode bytes are released one whole line at a time, so a fault never splits a row:
 * everything before the faulty line has been released, nothing of it or after it will be. Memory
 * stays bounded by one chunk plus `maxLineBytes`, whatever the file's size. Line breaks are CRLF, LF
 * or a lone CR, as csv-parse reads them; a UTF-8 BOM is dropped.
 */
export async function* checkedText(
  source: AsyncIterable<Buffer | string>,
  options: CheckedTextOptions = {},
): AsyncGenerator<CheckedText> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const wholeLines = options.lines !== 'any-length';
  let line = 1;
  /** Bytes of the current line that came in earlier chunks; already scanned, not yet released. */
  let carry: Buffer = Buffer.alloc(0);
  let afterCR = false;
  let released = false;
  let first = true;

  const release = (bytes: Buffer): CheckedText[] => {
    if (!released && bytes.length > 0) {
      released = true;
      // The BOM says "UTF-8" and nothing more; no parser downstream should see it as data.
      if (bytes.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) bytes = bytes.subarray(UTF8_BOM.length);
    }
    return bytes.length === 0 ? [] : [{ bytes }];
  };
  const fault = (problem: string): CheckedText => ({ fault: { line, problem } });

  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (bytes.length === 0) continue;
    if (first) {
      first = false;
      // Windows "Unicode text" is UTF-16; naming it beats calling the user's file binary.
      if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
        yield fault('file is UTF-16 text; save it as UTF-8');
        return;
      }
    }
    const buf = carry.length === 0 ? bytes : Buffer.concat([carry, bytes]);
    let lineStart = 0;
    let i = carry.length;
    if (afterCR && buf[i] === LF) {
      // Second half of a CRLF split across chunks: the line already ended at the CR.
      lineStart = ++i;
    }
    afterCR = false;
    // Native searches rather than a byte loop in JS: this runs over every byte of every file.
    const nul = buf.indexOf(NUL, i);
    let nextLF = buf.indexOf(LF, i);
    let nextCR = buf.indexOf(CR, i);
    for (;;) {
      const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (nul !== -1 && (end === -1 || nul < end)) {
        yield* release(buf.subarray(0, lineStart));
        yield fault('not a text file (binary data)');
        return;
      }
      if (end === -1) break;
      const problem = lineProblem(buf.subarray(lineStart, end), wholeLines ? maxLineBytes : Infinity);
      if (problem !== undefined) {
        yield* release(buf.subarray(0, lineStart));
        yield fault(problem);
        return;
      }
      line++;
      i = end + 1;
      if (buf[end] === CR) {
        if (i === buf.length) afterCR = true;
        else if (buf[i] === LF) i++;
      }
      lineStart = i;
      if (nextLF !== -1 && nextLF < i) nextLF = buf.indexOf(LF, i);
      if (nextCR !== -1 && nextCR < i) nextCR = buf.indexOf(CR, i);
    }
    if (!wholeLines) {
      // Compact JSON is one line however many rows it holds; pass it on as it comes, between characters.
      const cut = lineStart + characterBoundary(buf.subarray(lineStart));
      if (!isUtf8(buf.subarray(lineStart, cut))) {
        yield* release(buf.subarray(0, lineStart));
        yield fault('not a text file (binary data)');
        return;
      }
      lineStart = cut;
    }
    yield* release(buf.subarray(0, lineStart));
    carry = buf.subarray(lineStart);
    // Checked per chunk, not per line end, so a 2 GB line costs about 1 MiB of memory, not 2 GB.
    if (carry.length > maxLineBytes && wholeLines) {
      yield fault(tooLong(maxLineBytes));
      return;
    }
  }
  if (carry.length > 0) {
    const problem = lineProblem(carry, wholeLines ? maxLineBytes : Infinity);
    if (problem !== undefined) {
      yield fault(problem);
      return;
    }
    yield* release(carry);
  }
}

function lineProblem(bytes: Buffer, maxLineBytes: number): string | undefined {
  if (bytes.length > maxLineBytes) return tooLong(maxLineBytes);
  // A line never splits a UTF-8 sequence (CR and LF are ASCII), so each line must be valid on its own.
  if (!isUtf8(bytes)) return 'not a text file (binary data)';
  return undefined;
}

function tooLong(maxLineBytes: number): string {
  return `longer than ${maxLineBytes} bytes`;
}

/**
 * Where `bytes` can be cut without splitting a UTF-8 sequence: its length, or the start of an
 * incomplete sequence at its end. Anything malformed is left to isUtf8 to refuse.
 */
function characterBoundary(bytes: Buffer): number {
  let start = bytes.length - 1;
  while (start >= 0 && bytes.length - start < 4 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  const lead = bytes[start];
  if (lead === undefined || lead < 0xc0) return bytes.length;
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  return bytes.length - start >= length ? bytes.length : start;
}

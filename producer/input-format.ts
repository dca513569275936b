import { extname } from 'node:path';

/** The two input formats a rollout file can be written in. */
export type InputFormat = 'csv' | 'json';

/** How far to look for the first meaningful byte before settling on CSV; keeps sniffing bounded. */
const SNIFF_LIMIT_BYTES = 64 * 1024;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;

/** `.json` and `.csv` (any case) decide the format; any other name leaves it to the content. */
export function formatFromPath(path: string): InputFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.csv') return 'csv';
  return undefined;
}

/**
 * Decides the format from the first non-whitespace character (`[` or `{` means JSON, anything else
 * CSV) and hands back a source that still starts at byte 0. Works on stdin, which cannot be rewound.
 */
export async function sniffFormat(
  source: AsyncIterable<Buffer | string>,
): Promise<{ format: InputFormat; source: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const peeked: Buffer[] = [];
  let peekedBytes = 0;
  let exhausted = false;
  let format: InputFormat | undefined;
  try {
    while (format === undefined) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        format = 'csv';
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
      peeked.push(chunk);
      peekedBytes += chunk.length;
      const first = firstMeaningfulByte(peeked.length === 1 ? chunk : Buffer.concat(peeked));
      if (first !== undefined) format = first === OPEN_BRACKET || first === OPEN_BRACE ? 'json' : 'csv';
      else if (peekedBytes > SNIFF_LIMIT_BYTES) format = 'csv';
    }
  } catch (err) {
    await iterator.return?.();
    throw err;
  }
  return { format, source: replay(peeked, iterator, exhausted) };
}

function firstMeaningfulByte(bytes: Buffer): number | undefined {
  let i = 0;
  if (bytes.length < UTF8_BOM.length && UTF8_BOM.subarray(0, bytes.length).equals(bytes)) return undefined;
  if (bytes.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) i = UTF8_BOM.length;
  for (; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b;
  }
  return undefined;
}

async function* replay(
  peeked: Buffer[],
  rest: AsyncIterator<Buffer | string>,
  exhausted: boolean,
): AsyncGenerator<Buffer> {
  try {
    yield* peeked;
    if (exhausted) return;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    }
  } finally {
    // Stopping early (a fatal problem) must still release the file handle or stdin behind `rest`.
    await rest.return?.();
  }
}

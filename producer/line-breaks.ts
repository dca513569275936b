const LF = 0x0a;
const CR = 0x0d;

/**
 * Counts line breaks the way editors number lines: CRLF, LF and a lone CR each end one line.
 * csv-parse's own `info.lines` counts a CRLF inside a quoted field twice, so line numbers are
 * derived from raw text with this instead.
 */
export function countLineBreaks(text: string, end = text.length): number {
  let breaks = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === CR || (c === LF && (i === 0 || text.charCodeAt(i - 1) !== CR))) breaks++;
  }
  return breaks;
}

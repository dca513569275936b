/**
 * Aligned columns for a terminal. `formatTable` sizes columns from the rows it is given (small
 * tables: tenants, rollouts); `FixedWidthTable` uses each column's fixed width, so a table of any
 * length can be printed a row at a time (the report).
 */
export interface TableColumn<R> {
  header: string;
  value: (row: R) => string;
  /** Numbers read best right-aligned. Default left. */
  align?: 'left' | 'right';
  /**
   * Width in characters: at most (formatTable), or fixed (FixedWidthTable); longer text is cut with `…`, numbers
   * (right-aligned) never are.
   */
  width?: number;
}

const GAP = '  ';

/** `text` on one line, at most `width` characters (the last one `…` when cut). */
export function fitCell(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > width ? `${flat.slice(0, Math.max(0, width - 1))}…` : flat;
}

function line(cells: string[], widths: number[], aligns: ('left' | 'right' | undefined)[]): string {
  return cells
    .map((cell, i) => (aligns[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
    .join(GAP)
    .trimEnd();
}

/** The whole table with a header line; each column as wide as its widest cell. */
export function formatTable<R>(columns: readonly TableColumn<R>[], rows: readonly R[]): string {
  const cells = rows.map((row) => columns.map((c) => fitCell(c.value(row), c.width ?? Number.MAX_SAFE_INTEGER)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const aligns = columns.map((c) => c.align);
  return [columns.map((c) => c.header), ...cells].map((r) => `${line(r, widths, aligns)}\n`).join('');
}

/** A table printed a row at a time: the widths are fixed up front, never measured from the rows. */
export class FixedWidthTable<R> {
  private readonly widths: number[];
  private readonly aligns: ('left' | 'right' | undefined)[];

  constructor(private readonly columns: readonly (TableColumn<R> & { width: number })[]) {
    this.widths = columns.map((c) => Math.max(c.width, c.header.length));
    this.aligns = columns.map((c) => c.align);
  }

  header(): string {
    return `${line(
      this.columns.map((c) => c.header),
      this.widths,
      this.aligns,
    )}\n`;
  }

  row(row: R): string {
    return `${line(
      // a number is never cut: a misaligned row reads better than a wrong count
      this.columns.map((c, i) => (c.align === 'right' ? c.value(row) : fitCell(c.value(row), this.widths[i]!))),
      this.widths,
      this.aligns,
    )}\n`;
  }
}

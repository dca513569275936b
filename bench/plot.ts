import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Beside the JSON (see results.ts): the README shows these files. */
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

export interface ThroughputPlot {
  title: string;
  xLabel: string;
  /** Log scale on both axes: a series that scales linearly is then a straight line at 45°. */
  xLog: boolean;
  /** `ceiling`: what the CPU per row says the machine's cores could push with no one else on them. */
  points: { x: number; measured: number; ideal: number; ceiling?: number }[];
}

const W = 640;
const H = 400;
const M = { left: 72, right: 24, top: 44, bottom: 56 };

/**
 * Measured throughput against the ideal (and, when given, the CPU ceiling) as a hand-written SVG: a
 * few series and their axes are a few dozen elements, not worth a plotting dependency. With `xLog`
 * the y axis is logarithmic too, since the fleet's ideal spans 25 to 12,500/s. Writes
 * bench/results/<name>.svg and returns its path.
 */
export function writeThroughputSvg(name: string, plot: ThroughputPlot): string {
  const svg = throughputSvg(plot);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.svg`);
  writeFileSync(path, svg);
  return path;
}

export function throughputSvg(plot: ThroughputPlot): string {
  const { points } = plot;
  const xs = points.map((p) => p.x);
  const ys = points.flatMap((p) => [p.measured, p.ideal, ...(p.ceiling === undefined ? [] : [p.ceiling])]);
  const log = plot.xLog;
  const x = axis(Math.min(...xs), Math.max(...xs), log, M.left + 20, W - M.right - 20);
  // Log: room above the top point for the legend, not a whole empty decade.
  const yTop = log ? Math.max(...ys) * 2 : niceCeil(Math.max(...ys) * 1.4);
  const yBottom = log ? 10 ** Math.floor(Math.log10(Math.min(...ys))) : 0;
  const y = axis(yBottom, yTop, log, H - M.bottom, M.top);
  const yTicks = log ? decades(yBottom, yTop) : linearTicks(yTop);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  // Opaque, so the plot reads the same on a dark page.
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escape(plot.title)}</text>`,
  );
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 8}" y="${y(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const v of xs) {
    out.push(
      `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#f0f0f0"/>`,
    );
    out.push(`<text x="${x(v).toFixed(1)}" y="${H - M.bottom + 18}" text-anchor="middle">${label(v)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${escape(plot.xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">assignments/s${log ? ' (log scale)' : ''}</text>`,
  );

  const series = [
    {
      key: 'ideal' as const,
      name: 'ideal: sum of the tenants’ budgets',
      color: '#888',
      dash: ' stroke-dasharray="6 4"',
    },
    { key: 'measured' as const, name: 'measured (steady state)', color: '#1f6feb', dash: '' },
    ...(points.every((p) => p.ceiling !== undefined)
      ? [
          {
            key: 'ceiling' as const,
            name: 'CPU ceiling: cores ÷ CPU per row',
            color: '#d1242f',
            dash: ' stroke-dasharray="2 3"',
          },
        ]
      : []),
  ];
  for (const s of series) {
    const at = (p: ThroughputPlot['points'][number]) => p[s.key] ?? 0;
    const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(at(p)).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash}/>`);
    for (const p of points) {
      out.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(at(p)).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
      if (s.key === 'measured') {
        // Labels of the rightmost points go to their left, inside the frame.
        const left = x(p.x) > W - M.right - 60;
        out.push(
          `<text x="${(x(p.x) + (left ? -6 : 6)).toFixed(1)}" y="${(y(p.measured) + 16).toFixed(1)}" text-anchor="${left ? 'end' : 'start'}" fill="${s.color}">${label(p.measured)}</text>`,
        );
      }
    }
  }
  series.forEach((s, i) => {
    const ly = M.top + 8 + i * 18;
    out.push(
      `<line x1="${M.left + 14}" x2="${M.left + 44}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash}/>`,
    );
    out.push(`<text x="${M.left + 50}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Maps [lo, hi] onto [from, to] pixels, linearly or by log10. */
function axis(lo: number, hi: number, log: boolean, from: number, to: number): (v: number) => number {
  const f = log ? Math.log10 : (v: number) => v;
  const a = f(lo);
  const b = f(hi);
  return (v) => (b === a ? (from + to) / 2 : from + ((f(v) - a) / (b - a)) * (to - from));
}

function decades(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let v = lo; v <= hi; v *= 10) ticks.push(v);
  return ticks;
}

/** v rounded up to one significant digit (or two, below 2 × 10^k), for the top of a linear axis. */
function niceCeil(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v)) / (v < 2 * 10 ** Math.floor(Math.log10(v)) ? 10 : 2);
  return Math.ceil(v / step - 1e-9) * step;
}

function linearTicks(top: number): number[] {
  // The smallest of 1, 2, 2.5, 5 × 10^k that gives at most six steps.
  const base = 10 ** Math.floor(Math.log10(top / 6));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * base).find((s) => top / s <= 6)!;
  const ticks: number[] = [];
  for (let v = 0; v <= top + 1e-9; v += step) ticks.push(v);
  return ticks;
}

function label(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

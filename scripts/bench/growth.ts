/** Sizes and the growth table of `npm run bench:scale`. Pure. */
import { markdownTable, round } from './stats';

export interface ScaleSize {
  symbols: number;
  days: number;
}

/** `2000x1000` */
export function sizeLabel(size: ScaleSize): string {
  return `${size.symbols}x${size.days}`;
}

/**
 * Parses `2000x1000,5000x2000` (symbols x trading days, comma-separated) into sizes in the order given;
 * throws a message saying what is expected.
 */
export function parseSizes(text: string): ScaleSize[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error(`--sizes is empty: give sizes as SYMBOLSxDAYS, e.g. 2000x1000,5000x2000`);
  const sizes = parts.map((p) => {
    const m = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(p);
    if (!m) throw new Error(`size '${p}' is not SYMBOLSxDAYS (e.g. 2000x1000: 2,000 symbols over 1,000 trading days)`);
    const size = { symbols: Number(m[1]), days: Number(m[2]) };
    if (size.symbols < 1 || size.days < 1) throw new Error(`size '${p}' must have at least 1 symbol and 1 day`);
    return size;
  });
  const labels = sizes.map(sizeLabel);
  const repeated = labels.find((l, i) => labels.indexOf(l) !== i);
  if (repeated) throw new Error(`size ${repeated} is given twice`);
  return sizes;
}

/** One row of the growth table: the figure's key in each size's figures, and how it is shown. */
export interface GrowthFigure {
  key: string;
  label: string;
  /** Decimals shown; default 0. */
  digits?: number;
}

/**
 * How a figure grows over the sizes: `x` times from the first size (the smallest, as run) to the last.
 * Empty when a side is missing, not finite, or the first is 0.
 */
export function growthRatio(first: number | undefined, last: number | undefined): string {
  if (first === undefined || last === undefined || !Number.isFinite(first) || !Number.isFinite(last)) return '';
  if (first === 0) return last === 0 ? '1×' : '';
  const r = last / first;
  return `${r >= 10 ? round(r, 0) : r >= 1 ? round(r, 1) : round(r, 2)}×`;
}

function cell(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return round(value, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
}

/**
 * A Markdown table: one row per figure, one column per size (rows × symbols in the heading), and, when
 * there are two sizes or more, the ratio from the first size to the last.
 */
export function growthTable(
  sizes: readonly { label: string; rows: number; figures: Readonly<Record<string, number | undefined>> }[],
  figures: readonly GrowthFigure[],
): string {
  const ratio = sizes.length > 1;
  const head = [
    'figure',
    ...sizes.map((s) => `${s.label} (${cell(s.rows, 0)} rows)`),
    ...(ratio ? [`${sizes[0].label} → ${sizes[sizes.length - 1].label}`] : []),
  ];
  const rows = figures.map((f) => [
    f.label,
    ...sizes.map((s) => cell(s.figures[f.key], f.digits ?? 0)),
    ...(ratio ? [growthRatio(sizes[0].figures[f.key], sizes[sizes.length - 1].figures[f.key])] : []),
  ]);
  return markdownTable(head, rows);
}

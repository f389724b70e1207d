/**
 * Row-by-row comparison of a lake with its source CSV, for the chaos run and the benchmark. Pure.
 *
 * The expected rows are computed here from the CSV text with a deliberately plain reading (split on
 * commas, trim, `Number()`), independently of the pipeline's own parser, so a normalisation bug in
 * the pipeline shows up as differing rows instead of being reproduced on both sides.
 */

/** The fields of a lake record that must equal the source; `ingested_at` is the pipeline's own. */
export const COMPARED_FIELDS = [
  'symbol',
  'trade_date',
  'open',
  'high',
  'low',
  'close',
  'adj_close',
  'volume',
  'close_usd',
  'source',
  'row',
] as const;

export type ExpectedRow = Record<(typeof COMPARED_FIELDS)[number], string | number>;

const NUMERIC = ['open', 'high', 'low', 'close', 'adj_close', 'volume', 'close_usd'] as const;

/**
 * The data rows of an `indexProcessed.csv`-schema file (`Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD`),
 * as lake records: `row` is the 1-based line number (the header is line 1), `source` the file's base name.
 * Lines that are empty or do not have 9 fields with finite numbers are skipped and counted.
 */
export function expectedRows(csv: string, source: string): { rows: ExpectedRow[]; skipped: number } {
  const lines = csv.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: ExpectedRow[] = [];
  let skipped = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') {
      if (i < lines.length - 1) skipped++;
      continue;
    }
    const f = line.split(',').map((s) => s.trim());
    const numbers = f.slice(2).map((s) => (s === '' ? NaN : Number(s)));
    if (
      f.length !== 9 ||
      f[0] === '' ||
      !/^\d{4}-\d{2}-\d{2}$/.test(f[1]) ||
      numbers.some((n) => !Number.isFinite(n))
    ) {
      skipped++;
      continue;
    }
    const row = { symbol: f[0], trade_date: f[1], source, row: i + 1 } as ExpectedRow;
    NUMERIC.forEach((name, j) => (row[name] = numbers[j] === 0 ? 0 : numbers[j]));
    rows.push(row);
  }
  return { rows, skipped };
}

export interface LakeDiff {
  /** Rows expected (valid rows of the CSV). */
  rows: number;
  /** Records found in the lake. */
  lakeRecords: number;
  /** Expected (symbol, trade_date) with no record in the lake. */
  missing: number;
  /** Records beyond the first for a (symbol, trade_date). */
  duplicated: number;
  /** Records of an expected (symbol, trade_date) with some field different from the CSV's. */
  differing: number;
  /** Records whose (symbol, trade_date) is not in the CSV at all. */
  unexpected: number;
  /** Up to `maxExamples` descriptions of what is wrong. */
  examples: string[];
}

const keyOf = (r: { symbol?: unknown; trade_date?: unknown }) => `${String(r.symbol)}|${String(r.trade_date)}`;

/** Compares lake records (parsed JSON lines) with the expected rows, keyed by (symbol, trade_date). */
export function diffLake(
  expected: readonly ExpectedRow[],
  lake: Iterable<Record<string, unknown>>,
  maxExamples = 10,
): LakeDiff {
  const want = new Map<string, ExpectedRow>();
  for (const r of expected) want.set(keyOf(r), r);
  if (want.size !== expected.length) {
    throw new Error(
      `the source has ${expected.length - want.size} repeated (symbol, trade_date): it cannot be checked by that key`,
    );
  }
  const seen = new Set<string>();
  const diff: LakeDiff = {
    rows: expected.length,
    lakeRecords: 0,
    missing: 0,
    duplicated: 0,
    differing: 0,
    unexpected: 0,
    examples: [],
  };
  const example = (text: string) => diff.examples.length < maxExamples && diff.examples.push(text);
  for (const record of lake) {
    diff.lakeRecords++;
    const key = keyOf(record);
    const row = want.get(key);
    if (!row) {
      diff.unexpected++;
      example(`unexpected record ${key}: ${JSON.stringify(record)}`);
      continue;
    }
    if (seen.has(key)) {
      diff.duplicated++;
      example(`duplicate record ${key} (line ${row.row})`);
      continue;
    }
    seen.add(key);
    const wrong = COMPARED_FIELDS.filter((f) => record[f] !== row[f]);
    if (wrong.length > 0) {
      diff.differing++;
      example(
        `record ${key} differs from line ${row.row} in ${wrong
          .map((f) => `${f} (lake ${JSON.stringify(record[f])}, csv ${JSON.stringify(row[f])})`)
          .join(', ')}`,
      );
    }
  }
  for (const [key, row] of want) {
    if (seen.has(key)) continue;
    diff.missing++;
    example(`missing ${key} (line ${row.row})`);
  }
  return diff;
}

/** Count per symbol, sorted by symbol. */
export function countsBySymbol(records: Iterable<{ symbol?: unknown }>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(String(r.symbol), (counts.get(String(r.symbol)) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

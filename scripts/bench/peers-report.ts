/**
 * The figures of `npm run bench:peers` side by side: per-run tables, medians, ratios and the JSON
 * summary. Pure.
 */
import { markdownTable, median, round } from './stats';

/** One measured drain of the whole topic by one sink. */
export interface DrainRun {
  run: number;
  records: number;
  /** From the sink's group join to the end (ticklake: its commits reach the end offsets; peer: its table commit holds every record). */
  drainS: number;
  /** CPU seconds (user + system, all threads) of the sink's process from its start to the end. */
  cpuS: number;
  /** Largest resident set of the sink's process sampled during the drain, in MB. */
  peakRssMb: number;
  /** Objects the drain wrote into the bucket (data and metadata), and their bytes. */
  objects: number;
  bytes: number;
  /** Every record of the file exactly once, same values. */
  verified: boolean;
  /** ticklake only: from the group join until the Glue catalog held every partition (queryable by Athena). */
  catalogS?: number;
  /**
   * ticklake only: the drained lake compacted into the curated Parquet zone right after the drain (the
   * Parquet path): wall and CPU seconds of the worker, rows compacted, Parquet files and their bytes.
   */
  parquet?: { seconds: number; cpuS: number; rows: number; files: number; bytes: number };
}

export interface Freshness {
  rate: number;
  records: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  verified: boolean;
}

export interface SinkFigures {
  runs: DrainRun[];
  freshness: Freshness;
}

export interface Medians {
  drainS: number;
  recordsPerS: number;
  cpuS: number;
  peakRssMb: number;
  objects: number;
  bytes: number;
  catalogS?: number;
  /** ticklake only: CPU seconds of the sink plus the compaction, and the Parquet bytes. */
  parquetCpuS?: number;
  parquetBytes?: number;
}

export const recordsPerS = (r: DrainRun) => r.records / r.drainS;

export function medians(runs: readonly DrainRun[]): Medians {
  if (runs.length === 0) throw new Error('no measured runs');
  const m = (pick: (r: DrainRun) => number) => median(runs.map(pick));
  const catalog = runs.filter((r) => r.catalogS !== undefined);
  const parquet = runs.filter((r) => r.parquet !== undefined);
  return {
    drainS: m((r) => r.drainS),
    recordsPerS: m(recordsPerS),
    cpuS: m((r) => r.cpuS),
    peakRssMb: m((r) => r.peakRssMb),
    objects: m((r) => r.objects),
    bytes: m((r) => r.bytes),
    catalogS: catalog.length > 0 ? median(catalog.map((r) => r.catalogS!)) : undefined,
    ...(parquet.length > 0
      ? {
          parquetCpuS: median(parquet.map((r) => r.cpuS + r.parquet!.cpuS)),
          parquetBytes: median(parquet.map((r) => r.parquet!.bytes)),
        }
      : {}),
  };
}

/** a / b rounded, or NaN when either is not a finite number or b is 0. */
export function ratio(a: number, b: number, digits = 2): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? round(a / b, digits) : NaN;
}

const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** The per-run table of one sink, for the notes and docs. */
export function runsTable(name: string, runs: readonly DrainRun[]): string {
  return markdownTable(
    ['run', 'sink', 'drain (s)', 'records/s', 'CPU (s)', 'peak RSS (MB)', 'objects', 'MB written', 'exactly once'],
    runs.map((r) => [
      r.run,
      name,
      round(r.drainS, 2),
      Math.round(recordsPerS(r)),
      round(r.cpuS, 2),
      Math.round(r.peakRssMb),
      r.objects,
      mb(r.bytes),
      r.verified ? 'yes' : 'NO',
    ]),
  );
}

/** The side-by-side table of the medians, ratios as ticklake / peer. */
export function sideBySide(peerName: string, ticklake: SinkFigures, peer: SinkFigures): string {
  const t = medians(ticklake.runs);
  const p = medians(peer.runs);
  const n = ticklake.runs.length;
  const x = (a: number, b: number) => {
    const r = ratio(a, b);
    return Number.isNaN(r) ? '' : `${r}×`;
  };
  const verified = (s: SinkFigures) => (s.runs.every((r) => r.verified) && s.freshness.verified ? 'yes' : 'NO');
  return markdownTable(
    ['figure (median of ' + n + ' runs)', 'ticklake', peerName, 'ticklake / peer'],
    [
      ['drain, whole file (s)', round(t.drainS, 2), round(p.drainS, 2), x(t.drainS, p.drainS)],
      ['records/s', Math.round(t.recordsPerS), Math.round(p.recordsPerS), x(t.recordsPerS, p.recordsPerS)],
      ["CPU of the sink's process (s)", round(t.cpuS, 2), round(p.cpuS, 2), x(t.cpuS, p.cpuS)],
      [
        "peak RSS of the sink's process (MB)",
        Math.round(t.peakRssMb),
        Math.round(p.peakRssMb),
        x(t.peakRssMb, p.peakRssMb),
      ],
      ['objects written', t.objects, p.objects, x(t.objects, p.objects)],
      ['MB written', mb(t.bytes), mb(p.bytes), x(t.bytes, p.bytes)],
      [
        `freshness p50 at ${ticklake.freshness.rate} records/s (ms)`,
        ticklake.freshness.p50Ms,
        peer.freshness.p50Ms,
        x(ticklake.freshness.p50Ms, peer.freshness.p50Ms),
      ],
      [
        `freshness p99 at ${ticklake.freshness.rate} records/s (ms)`,
        ticklake.freshness.p99Ms,
        peer.freshness.p99Ms,
        x(ticklake.freshness.p99Ms, peer.freshness.p99Ms),
      ],
      ...(t.parquetCpuS !== undefined
        ? [
            [
              'Parquet path: CPU of sink + compaction (s)',
              round(t.parquetCpuS, 2),
              round(p.cpuS, 2),
              x(t.parquetCpuS, p.cpuS),
            ],
            [
              'Parquet path: CPU per record (µs)',
              Math.round((t.parquetCpuS * 1e6) / ticklake.runs[0].records),
              Math.round((p.cpuS * 1e6) / peer.runs[0].records),
              x(t.parquetCpuS, p.cpuS),
            ],
            [
              'Parquet path: MB held (ticklake: curated Parquet; peer: its table, data and metadata)',
              mb(t.parquetBytes!),
              mb(p.bytes),
              x(t.parquetBytes!, p.bytes),
            ],
          ]
        : []),
      ['every record exactly once', verified(ticklake), verified(peer), ''],
    ],
  );
}

/** The targets on this comparison. */
export const TARGETS = { recordsPerS: 5, cpu: 0.4, rss: 0.5, freshnessP99: 0.5, parquetCpu: 1 } as const;

/** The last line's JSON object. */
export function summary(args: {
  peer: string;
  peerVersion: string;
  ticklake: SinkFigures;
  peerFigures: SinkFigures;
  loadAverage: { before: string; after: string };
}) {
  const t = medians(args.ticklake.runs);
  const p = medians(args.peerFigures.runs);
  const tf = args.ticklake.freshness;
  const pf = args.peerFigures.freshness;
  const verified =
    args.ticklake.runs.every((r) => r.verified) &&
    args.peerFigures.runs.every((r) => r.verified) &&
    tf.verified &&
    pf.verified;
  const records_per_s_ratio = ratio(t.recordsPerS, p.recordsPerS);
  const cpu_ratio = ratio(t.cpuS, p.cpuS);
  const rss_ratio = ratio(t.peakRssMb, p.peakRssMb);
  const freshness_p99_ratio = ratio(tf.p99Ms, pf.p99Ms);
  const parquet_cpu_ratio = t.parquetCpuS === undefined ? NaN : ratio(t.parquetCpuS, p.cpuS);
  return {
    peer: args.peer,
    peer_version: args.peerVersion,
    runs: args.ticklake.runs.length,
    records: args.ticklake.runs[0]?.records ?? 0,
    records_per_s: Math.round(t.recordsPerS),
    peer_records_per_s: Math.round(p.recordsPerS),
    records_per_s_ratio,
    drain_s: round(t.drainS, 2),
    peer_drain_s: round(p.drainS, 2),
    catalog_s: t.catalogS === undefined ? null : round(t.catalogS, 2),
    cpu_s: round(t.cpuS, 2),
    peer_cpu_s: round(p.cpuS, 2),
    cpu_ratio,
    rss_mb: Math.round(t.peakRssMb),
    peer_rss_mb: Math.round(p.peakRssMb),
    rss_ratio,
    objects: t.objects,
    peer_objects: p.objects,
    bytes: t.bytes,
    peer_bytes: p.bytes,
    freshness_rate_per_s: tf.rate,
    freshness_p50_ms: tf.p50Ms,
    freshness_p99_ms: tf.p99Ms,
    peer_freshness_p50_ms: pf.p50Ms,
    peer_freshness_p99_ms: pf.p99Ms,
    freshness_p99_ratio,
    parquet_cpu_s: t.parquetCpuS === undefined ? null : round(t.parquetCpuS, 2),
    parquet_cpu_ratio: Number.isNaN(parquet_cpu_ratio) ? null : parquet_cpu_ratio,
    parquet_bytes: t.parquetBytes ?? null,
    verified,
    targets_met: {
      records_per_s: records_per_s_ratio >= TARGETS.recordsPerS,
      cpu: cpu_ratio <= TARGETS.cpu,
      rss: rss_ratio <= TARGETS.rss,
      freshness_p99: freshness_p99_ratio <= TARGETS.freshnessP99,
      // null when the runs have no Parquet path to compare.
      parquet_cpu: Number.isNaN(parquet_cpu_ratio) ? null : parquet_cpu_ratio <= TARGETS.parquetCpu,
      verified,
    },
    load_average: args.loadAverage,
  };
}

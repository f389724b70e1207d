/**
 * The small time series the dashboard keeps while a page is open: the sink's ingestion rate and the
 * freshness of its flushes over the last minutes, derived from successive samples of its progress. Pure.
 */

export interface SinkSample {
  /** Sample time, ms since the epoch. */
  at: number;
  /** Records the sink has written, in all (its counter only grows within a run of the workflow). */
  records: number;
  /** Its last flush, and the age of that flush's oldest record when it became durable. */
  lastFlushAt?: string;
  lastFreshnessMs?: number;
}

export interface Point {
  at: number;
  value: number;
}

export interface HistoryView {
  /** Records written per second between successive samples. */
  rate: Point[];
  /** Freshness of each flush seen (ms from receipt of its oldest record to durable objects). */
  freshness: Point[];
  freshnessP50: number | null;
  freshnessP99: number | null;
  /** Flushes seen over the window (one freshness point each). */
  flushesSeen: number;
  windowMs: number;
}

/** The p-th percentile (0-100) of values, nearest rank; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export class SinkHistory {
  private readonly rate: Point[] = [];
  private readonly freshness: Point[] = [];
  private last?: SinkSample;

  constructor(readonly windowMs = 10 * 60_000) {}

  /** Adds a sample; returns true when the sink flushed since the previous one (the lake changed). */
  add(s: SinkSample): boolean {
    const prev = this.last;
    this.last = s;
    this.trim(s.at);
    if (!prev) return false;
    const seconds = (s.at - prev.at) / 1000;
    // A restarted sink workflow starts its counter again: no rate for that step.
    if (seconds > 0 && s.records >= prev.records)
      this.rate.push({ at: s.at, value: (s.records - prev.records) / seconds });
    const flushed = s.lastFlushAt !== undefined && s.lastFlushAt !== prev.lastFlushAt;
    if (flushed && s.lastFreshnessMs !== undefined) this.freshness.push({ at: s.at, value: s.lastFreshnessMs });
    return flushed || s.records !== prev.records;
  }

  view(): HistoryView {
    const values = this.freshness.map((p) => p.value);
    return {
      rate: [...this.rate],
      freshness: [...this.freshness],
      freshnessP50: percentile(values, 50),
      freshnessP99: percentile(values, 99),
      flushesSeen: values.length,
      windowMs: this.windowMs,
    };
  }

  private trim(now: number): void {
    for (const series of [this.rate, this.freshness]) {
      while (series.length > 0 && series[0].at < now - this.windowMs) series.shift();
    }
  }
}

/** How the curated zone's state reads in a line (`ticklake status`, the dashboard). Pure, and light to load. */
import { filesize } from 'filesize';
import type { CrawlScheduleInfo } from '../schedules';
import type { curatedTotals, CompactState } from './state';

export interface CompactReport {
  table: string;
  generation: number;
  totals: ReturnType<typeof curatedTotals>;
  last: CompactState['last'] | null;
  failures: CompactState['failures'];
  /** Sink cuts written since the compaction's chain end: what the next runs will compact. */
  cutsWaiting: number;
  retirementsWaiting: number;
  schedule: { every: string; paused: boolean; next: string | null } | null;
}

/** The schedule's part of a report, from `describeCompactSchedule` (null: no schedule). */
export function scheduleSummary(schedule: CrawlScheduleInfo | undefined): CompactReport['schedule'] {
  return schedule ? { every: schedule.every, paused: schedule.paused, next: schedule.next[0] ?? null } : null;
}

/** 1234567 -> '1.18 MB'. */
export const mb = (bytes: number) => filesize(bytes, { round: 2 });

/** One line for `ticklake status`. */
export function compactLine(r: CompactReport): string {
  const last = r.last
    ? `last compaction ${r.last.finishedAt}: ${r.last.windows} windows, ${r.last.rows} rows, ${mb(r.last.rawBytes)} raw -> ${mb(r.last.parquetBytes)} Parquet, ${r.last.durationMs} ms`
    : 'never compacted';
  const schedule = r.schedule
    ? `schedule every ${r.schedule.every}${r.schedule.paused ? ' (paused)' : `, next ${r.schedule.next ?? '?'}`}`
    : 'no schedule (npx ticklake start creates it)';
  const failing = r.failures.length > 0 ? `; ${r.failures.length} window(s) failing (npx ticklake compact status)` : '';
  return `compaction: ${last}; ${r.totals.rows} rows curated in ${r.totals.partitions} partitions; ${r.cutsWaiting} sink cuts wait; ${schedule}${failing}`;
}

/** Adding up the sink's counters over its activity runs (pure: used by the sink workflow and clients). */
import type { SinkProgress } from './lake-sink';

/** Counters that add up over the activity's runs (a pause ends a run; its retries are one run). */
export const SINK_COUNTERS = ['records', 'deadLetters', 'bytes', 'files', 'flushes', 'rewrittenRecords'] as const;

/** `base` plus the counters of one activity run; everything else from the run. */
export function addSinkCounters(base: SinkProgress, run: SinkProgress): SinkProgress {
  const next: SinkProgress = { ...run };
  for (const k of SINK_COUNTERS) next[k] = (base[k] ?? 0) + (run[k] ?? 0);
  return next;
}

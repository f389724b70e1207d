/** What the curated zone holds and what waits, read from the lake and the schedule (no worker needed). */
import type { Client } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { describeCompactSchedule } from '../schedules';
import { compactLakeReport } from './lake-report';
import { scheduleSummary, type CompactReport } from './summary';

export type { CompactReport };

/** What the curated zone holds and what waits, from the lake alone (no worker needed). */
export async function compactReport(config: TicklakeConfig, c?: Client): Promise<CompactReport> {
  const [lake, schedule] = await Promise.all([
    compactLakeReport(config),
    c ? describeCompactSchedule(c, config).catch(() => undefined) : undefined,
  ]);
  return { ...lake, schedule: scheduleSummary(schedule) };
}

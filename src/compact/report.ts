/** What the curated zone holds and what waits, read from the lake and the schedule (no worker needed). */
import type { Client } from '@temporalio/client';
import { createAwsClients } from '../adapters/aws';
import { listKeys, listManifestFolders } from '../catalog/lake-scan';
import { sinkManifestRoot } from '../catalog/crawl-plan';
import type { TicklakeConfig } from '../config';
import { describeCompactSchedule, type CrawlScheduleInfo } from '../schedules';
import { curatedTotals, listStartAfter, manifestFolderId } from './state';
import { readLatestState } from './store';
import type { CompactReport } from './summary';

export type { CompactReport };

/** What the curated zone holds and what waits, from the lake alone (no worker needed). */
export async function compactReport(config: TicklakeConfig, c?: Client): Promise<CompactReport> {
  const { s3 } = createAwsClients(config.aws);
  const ref = await readLatestState(
    s3,
    config.lake.bucket,
    config.lake.prefix,
    config.glue.database,
    config.glue.table,
  );
  const state = ref?.state;
  let cutsWaiting = 0;
  const root = sinkManifestRoot(config.lake.prefix);
  for (const folder of await listManifestFolders(s3, config.lake.bucket, root)) {
    const id = manifestFolderId(folder, root);
    if (!id) continue;
    const keys = await listKeys(s3, config.lake.bucket, folder, listStartAfter(folder, state?.chain[id.id] ?? '0'));
    cutsWaiting += keys.filter((k) => k.endsWith('.json')).length;
  }
  let schedule: CrawlScheduleInfo | undefined;
  if (c) schedule = await describeCompactSchedule(c, config).catch(() => undefined);
  return {
    table: `${config.glue.database}.${config.glue.table}`,
    generation: state?.generation ?? 0,
    totals: state
      ? curatedTotals(state)
      : { partitions: 0, rows: 0, parquetBytes: 0, rawBytesReplaced: 0, retirementsWaiting: 0 },
    last: state?.last ?? null,
    failures: state?.failures ?? [],
    cutsWaiting,
    retirementsWaiting: state?.retirements.length ?? 0,
    schedule: schedule ? { every: schedule.every, paused: schedule.paused, next: schedule.next[0] ?? null } : null,
  };
}

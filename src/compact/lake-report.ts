/**
 * The lake's part of a compaction report: what the state object and the sink's manifests say, from S3
 * alone (no Temporal; `ticklake status` asks it on a thread that does not load Temporal's client).
 */
import { createAwsClients } from '../adapters/aws';
import { listKeys, listManifestFolders } from '../catalog/lake-scan';
import { sinkManifestRoot } from '../catalog/crawl-plan';
import type { TicklakeConfig } from '../config';
import { curatedTotals, listStartAfter, manifestFolderId } from './state';
import { readLatestState } from './store';
import type { CompactReport } from './summary';

/** The lake's part of a report: what the state object and the sink's manifests say (S3 alone). */
export async function compactLakeReport(config: TicklakeConfig): Promise<Omit<CompactReport, 'schedule'>> {
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
  };
}

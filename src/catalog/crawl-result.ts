/**
 * The result of a crawl that has done nothing yet. Pure and sandbox-safe (types only): the crawl's
 * steps start from it, and the crawl workflow answers with it when it only registered noticed
 * partitions.
 */
import type { CrawlInput, CrawlResult } from '../../activities/types';

export function emptyCrawlResult(
  input: Pick<CrawlInput, 'database' | 'table'>,
  scan: CrawlResult['scan'],
): CrawlResult {
  return {
    database: input.database,
    table: input.table,
    scan,
    tableCreated: false,
    tableUpdated: false,
    columns: [],
    addedColumns: [],
    widenedColumns: [],
    partitionsFound: 0,
    partitionsAdded: 0,
    partitionsUpdated: 0,
    objectsFound: 0,
    objectsRead: 0,
    manifestsRead: 0,
    unreadableObjects: [],
    malformedLines: 0,
    drift: [],
    warnings: [],
    durationMs: 0,
    phaseMs: {},
  };
}

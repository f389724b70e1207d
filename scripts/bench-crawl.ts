/**
 * Crawler benchmark on the local services: builds the lake of the real file (TICKLAKE_REAL_CSV)
 * through the real pipeline (replay → Kafka → sink → S3), times a full crawl from an empty catalog,
 * then adds about 1% more data (a second replay of every 100th row) and times the incremental crawl.
 *
 *   TICKLAKE_REAL_CSV=../shared/data/stock-exchange/indexProcessed.csv npm run bench:crawl
 *
 * Times are wall-clock times of `runCrawl` as a client sees them (update-with-start, the crawl
 * activity, the answer). After each crawl the catalog is checked against the lake itself: the
 * partition folders that hold data objects (listed from S3) must be exactly the partitions registered
 * in Glue (their locations), and the crawl must have found every data object; otherwise the benchmark
 * fails. The last line is one JSON object with the figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteDatabaseCommand, paginateGetPartitions } from '@aws-sdk/client-glue';
import type { CrawlResult } from '../activities/types';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { loadConfig, type TicklakeConfig } from '../src/config';
import { listKeys } from '../src/catalog/lake-scan';
import { tableRoot } from '../src/lake-layout';
import {
  prepareInfrastructure,
  runCrawl,
  startReplay,
  startSink,
  waitForSinkCaughtUp,
  workflowIds,
} from '../src/pipeline';
import { startWorker } from '../src/worker';
import { uniqueNames } from './bench/common';
import { removeResources } from '../test/integration/sink-support';

const DATA_OBJECT = /\.(json(\.gz|\.zst)?|parquet)$/;

/**
 * What differs between the catalog and the lake: folders with data objects and no partition,
 * partitions with no data object, and a crawl that did not find every object. Empty when they agree.
 */
async function catalogProblems(
  config: TicklakeConfig,
  crawl: CrawlResult,
): Promise<{ problems: string[]; folders: number; objects: number }> {
  const { s3, glue } = createAwsClients(config.aws);
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const objects = (await listKeys(s3, config.lake.bucket, root)).filter((k) => DATA_OBJECT.test(k));
  const folders = new Set(objects.map((k) => `s3://${config.lake.bucket}/${k.slice(0, k.lastIndexOf('/') + 1)}`));
  const registered = new Set<string>();
  for await (const page of paginateGetPartitions(
    { client: glue },
    { DatabaseName: config.glue.database, TableName: config.glue.table, ExcludeColumnSchema: true },
  )) {
    for (const p of page.Partitions ?? []) {
      const location = p.StorageDescriptor?.Location ?? '';
      registered.add(location.endsWith('/') ? location : `${location}/`);
    }
  }
  const problems: string[] = [];
  const unregistered = [...folders].filter((f) => !registered.has(f));
  const empty = [...registered].filter((f) => !folders.has(f));
  if (unregistered.length > 0) {
    problems.push(`${unregistered.length} folders with data and no partition (${unregistered.slice(0, 3).join(', ')})`);
  }
  if (empty.length > 0)
    problems.push(`${empty.length} partitions with no data object (${empty.slice(0, 3).join(', ')})`);
  if (crawl.objectsFound !== undefined && crawl.scan === 'full' && crawl.objectsFound !== objects.length) {
    problems.push(`the crawl found ${crawl.objectsFound} objects, the lake holds ${objects.length}`);
  }
  return { problems, folders: folders.size, objects: objects.length };
}

async function main(): Promise<void> {
  const file = process.env.TICKLAKE_REAL_CSV;
  if (!file || !fs.existsSync(file)) {
    throw new Error(
      'set TICKLAKE_REAL_CSV to the path of indexProcessed.csv (e.g. ../shared/data/stock-exchange/indexProcessed.csv)',
    );
  }
  const config = loadConfig({ ...process.env, ...uniqueNames('bench-crawl') });
  const id = config.kafka.topic; // replay ids: unique like the topics
  const aws = createAwsClients(config.aws);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-bench-crawl-'));

  await prepareInfrastructure(config);
  const worker = await startWorker(config);
  const client = await connectClient(config.temporal);
  try {
    // ---- the lake of the real file ----------------------------------------------------------------
    let t = Date.now();
    // Without partition notices: they would register the lake as it is written (and recreate the
    // catalog emptied below), so the crawls would have nothing left to do.
    const sink = await startSink(client, config, { notices: false });
    await (await startReplay(client, config, { file, replayId: `${id}-full` })).result();
    await waitForSinkCaughtUp(config, 600_000);
    console.log(
      `lake of ${path.basename(file)} built through the pipeline in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );

    // ---- full crawl from an empty catalog ---------------------------------------------------------
    // Empty the catalog first, in case an earlier crawl workflow of this table is still around.
    await client.workflow
      .getHandle(workflowIds.crawl(config.glue.database, config.glue.table))
      .terminate('benchmark: full crawl from an empty catalog')
      .catch(() => undefined);
    await aws.glue.send(new DeleteDatabaseCommand({ Name: config.glue.database })).catch(() => undefined);
    t = Date.now();
    const full: CrawlResult = await runCrawl(client, config);
    const fullMs = Date.now() - t;
    console.log(
      `full crawl: ${fullMs} ms (activity ${full.durationMs} ms), ${full.scan}, ${full.objectsFound} objects in ` +
        `${full.partitionsFound} partitions, ${full.objectsRead} objects read, ${full.partitionsAdded} partitions registered; phases ${JSON.stringify(full.phaseMs)}`,
    );

    const fullCheck = await catalogProblems(config, full);
    if (fullCheck.problems.length > 0) throw new Error(`after the full crawl: ${fullCheck.problems.join('; ')}`);
    console.log(
      `checked: the catalog's ${full.partitionsAdded} partitions are the lake's ${fullCheck.folders} folders holding ` +
        `its ${fullCheck.objects} data objects`,
    );

    // ---- about 1% more data, then an incremental crawl ---------------------------------------------
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    const more = [lines[0], ...lines.slice(1).filter((l, i) => l.length > 0 && i % 100 === 0)];
    const moreFile = path.join(tmp, 'more.csv');
    fs.writeFileSync(moreFile, more.join('\n') + '\n');
    await (await startReplay(client, config, { file: moreFile, replayId: `${id}-more` })).result();
    await waitForSinkCaughtUp(config, 120_000);
    t = Date.now();
    const inc: CrawlResult = await runCrawl(client, config);
    const incMs = Date.now() - t;
    console.log(
      `incremental crawl after ${more.length - 1} more rows: ${incMs} ms (activity ${inc.durationMs} ms), ${inc.scan}, ` +
        `${inc.manifestsRead} manifests, ${inc.objectsRead} objects read, ${inc.partitionsAdded} partitions registered; phases ${JSON.stringify(inc.phaseMs)}`,
    );

    const incCheck = await catalogProblems(config, inc);
    if (incCheck.problems.length > 0) throw new Error(`after the incremental crawl: ${incCheck.problems.join('; ')}`);
    console.log(`checked: the catalog holds the lake's ${incCheck.folders} folders, no more, no fewer`);

    await sink.terminate('benchmark over');
    console.log(
      JSON.stringify({
        rows: lines.length - 2,
        more_rows: more.length - 1,
        full_crawl_ms: fullMs,
        full_activity_ms: full.durationMs,
        full_objects_found: full.objectsFound,
        full_objects_read: full.objectsRead,
        full_partitions: full.partitionsAdded,
        lake_folders: fullCheck.folders,
        lake_objects: fullCheck.objects,
        partitions_checked: true,
        full_manifests_read: full.manifestsRead,
        incremental_crawl_ms: incMs,
        incremental_activity_ms: inc.durationMs,
        incremental_scan: inc.scan,
        incremental_manifests_read: inc.manifestsRead,
        incremental_objects_read: inc.objectsRead,
        incremental_partitions_added: inc.partitionsAdded,
      }),
    );
  } finally {
    await client.workflow
      .getHandle(workflowIds.crawl(config.glue.database, config.glue.table))
      .terminate('benchmark over')
      .catch(() => undefined);
    await removeResources(config).catch((err: unknown) =>
      console.error(`could not remove the bench topics, bucket or database: ${String(err)}`),
    );
    fs.rmSync(tmp, { recursive: true, force: true });
    await client.connection.close();
    await worker.shutdown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);

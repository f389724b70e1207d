/**
 * Crawler benchmark on the local services: builds the lake of the real file (TICKLAKE_REAL_CSV)
 * through the real pipeline (replay → Kafka → sink → S3), times a full crawl from an empty catalog,
 * then adds about 1% more data (a second replay of every 100th row) and times the incremental crawl.
 *
 *   TICKLAKE_REAL_CSV=../shared/data/stock-exchange/indexProcessed.csv npm run bench:crawl
 *
 * Times are wall-clock times of `runCrawl` as a client sees them (update-with-start, the crawl
 * activity, the answer). The last line is one JSON object with the figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import type { CrawlResult } from '../activities/types';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { loadConfig } from '../src/config';
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

/**
 * `npm run bench:peers`: ticklake's sink side by side with the strongest open-source peer for an
 * exactly-once Kafka-to-S3 lake catalogued in Glue, Apache Iceberg's Kafka Connect sink, on the same
 * topic holding the real data file. docs/benchmarks.md explains the method and the differences.
 *
 * On a stack of services of its own (port offset 10000 by default, a temporary data dir, stopped at
 * the end):
 *
 * 1. installs the peer from Maven Central into the shared cache (once per version) and starts a Kafka
 *    Connect standalone worker on 127.0.0.1 (REST port 8083 + offset); ticklake's worker runs as a
 *    subprocess too, so each sink's CPU time and memory are its own process's;
 * 2. fills one topic with the real file through ticklake's replay engine; each sink drains it
 *    alternately, a warm-up run of each first, then `--runs` measured runs, each with a fresh consumer
 *    group, bucket and table. One external poller times both: from the sink's group join (Kafka's
 *    group description) to the end, which for ticklake is its group's lag reaching 0 (its commits
 *    reach the end offsets) and for the peer is the table's current snapshot (Glue's
 *    metadata_location, then the metadata file) holding every record. After each run both lakes are
 *    read back and compared with the CSV row by row: ticklake's objects directly, the Iceberg table
 *    through its own metadata (scripts/bench/peer/IcebergLake.java, compiled at bench time against
 *    the peer's jars);
 * 3. freshness at a steady `--freshness-rate` records/s: ticklake's record is fresh when its object is
 *    listed and its partition registered in Glue, the peer's when a snapshot holding it is the table's
 *    current one; both polled every 100 ms. Each sink first makes 200 records visible (a primer, not
 *    measured), so the measurement starts from a sink that has committed once, as a long-running one has;
 * 4. prints each run, the medians side by side and, as its last line, one JSON object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, GetTableCommand, type GlueClient, type Table } from '@aws-sdk/client-glue';
import type { Client } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import { createAwsClients } from '../src/adapters/aws';
import { ensureTopics } from '../src/adapters/kafka';
import { ensureBucket } from '../src/adapters/s3';
import { connectClient } from '../src/adapters/temporal';
import { ensureDatabase, getTable, partitionId, registeredPartitions } from '../src/catalog/glue-catalog';
import { s3Url } from '../src/catalog/glue-table';
import { listKeys } from '../src/catalog/lake-scan';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { parseDataObjectKey, partitionValues, tableRoot } from '../src/lake-layout';
import { startCompaction, startSink } from '../src/pipeline';
import {
  Stack,
  WorkerProcess,
  groupJoined,
  loadAverage,
  probeKafka,
  readLakeObjects,
  realCsvOrExit,
  sleep,
  statusKb,
  stopSink,
  tempDataDir,
  totalLag,
  waitFor,
} from './bench/common';
import { fillTopic } from './bench/fill';
import {
  PEER_NAME,
  PEER_VERSIONS,
  connectGroupId,
  currentRecords,
  icebergCatalogProperties,
  icebergConnectorConfig,
  parseAdded,
  parseTableMetadata,
  type TableMetadataInfo,
} from './bench/iceberg-peer';
import { ConnectWorker, IcebergLakeTool, installPeer, peerEnv } from './bench/peer-process';
import { runsTable, sideBySide, summary, type DrainRun, type Freshness, type SinkFigures } from './bench/peers-report';
import { percentile, round } from './bench/stats';
import { diffLake, expectedRows, type ExpectedRow, type LakeDiff } from './bench/verify';

interface Options {
  offset: string;
  keepStack: boolean;
  dataDir?: string;
  runs: string;
  freshnessRate: string;
  freshnessSeconds: string;
  commitIntervalMs: string;
  out: string;
}

const log = (line: string) => console.error(line);

/** Samples a process's resident set every 50 ms; `stop()` returns the largest, in MB. */
function rssSampler(pid: number) {
  let peakKb = statusKb(pid, 'VmRSS') ?? 0;
  const timer = setInterval(() => (peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS') ?? 0)), 50);
  return {
    stop(): number {
      clearInterval(timer);
      peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS') ?? 0);
      return peakKb / 1024;
    },
  };
}

/** Objects under a prefix of a bucket and their bytes. */
async function objectStats(s3: S3Client, bucket: string, prefix = ''): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) {
      objects++;
      bytes += o.Size ?? 0;
    }
  }
  return { objects, bytes };
}

function exactlyOnce(diff: LakeDiff): boolean {
  return diff.missing === 0 && diff.duplicated === 0 && diff.differing === 0 && diff.unexpected === 0;
}

function describeDiff(what: string, diff: LakeDiff): string {
  return (
    `${what}: ${diff.lakeRecords} records for ${diff.rows} rows; missing ${diff.missing}, duplicated ${diff.duplicated}, ` +
    `differing ${diff.differing}, unexpected ${diff.unexpected}` +
    (diff.examples.length ? ` (${diff.examples.slice(0, 3).join('; ')})` : '')
  );
}

/** The Iceberg table as its readers find it: Glue's metadata_location, then the metadata file it names. */
function tableWatcher(glue: GlueClient, s3: S3Client, database: string, table: string) {
  let location: string | undefined;
  let meta: TableMetadataInfo | undefined;
  return {
    /** The current metadata, read again only when Glue names a new file. */
    async poll(): Promise<TableMetadataInfo | undefined> {
      const t = await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
      const next = t.Table?.Parameters?.metadata_location;
      if (!next || next === location) return meta;
      const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(next);
      if (!m) throw new Error(`unexpected metadata_location ${next}`);
      const obj = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
      meta = parseTableMetadata(await obj.Body!.transformToString('utf8'));
      location = next;
      return meta;
    },
  };
}

interface Context {
  id: string;
  base: NodeJS.ProcessEnv;
  topic: string;
  records: number;
  expected: ExpectedRow[];
  /** Distinct (symbol, year) of the file: ticklake's Glue partitions once it is all registered. */
  partitions: number;
  admin: Admin;
  s3: S3Client;
  glue: GlueClient;
  client: Client;
  worker: WorkerProcess;
  connect: ConnectWorker;
  tool: IcebergLakeTool;
  commitIntervalMs: number;
  kafkaBrokers: string;
  catalogFor: (bucket: string) => Record<string, string>;
  /** ticklake's table as the warm-up's crawl made it: each measured run's table is created from it. */
  tableTemplate?: Table;
}

function ticklakeConfig(ctx: Context, topic: string, tag: string): TicklakeConfig {
  return loadConfig({
    ...ctx.base,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_POSITIONS_TOPIC: `${topic}.positions`,
    SINK_GROUP_ID: `tl-${ctx.id}-${tag}`,
    LAKE_BUCKET: `tl-peers-${ctx.id}-t${tag}`,
    GLUE_DATABASE: `tl_${ctx.id}_${tag}`.replace(/-/g, '_'),
  });
}

/** The lake partitions (as partitionId) of the rows in ticklake's configured layout (year/symbol_bucket by default). */
function lakePartitions(rows: readonly ExpectedRow[], config: TicklakeConfig): Set<string> {
  return new Set(
    rows.map((r) =>
      partitionId(
        partitionValues(
          { symbol: String(r.symbol), trade_date: String(r.trade_date).slice(0, 10) },
          config.lake.partitionBy,
          config.lake.symbolBuckets,
        ),
      ),
    ),
  );
}

/**
 * A measured run's Glue table, created before its drain as the peer's is (the Iceberg table is created
 * by the bench tool before its connector starts): the warm-up's table, which ticklake's crawl inferred
 * from the same records, under the run's database and bucket. The sink then registers its partitions
 * in an existing table, as a long-running sink does; the warm-up drain is the one whose crawl creates it.
 */
async function prepareTicklakeTable(ctx: Context, config: TicklakeConfig): Promise<void> {
  const t = ctx.tableTemplate;
  if (!t) return;
  await ensureDatabase(ctx.glue, config.glue.database);
  await ctx.glue.send(
    new CreateTableCommand({
      DatabaseName: config.glue.database,
      TableInput: {
        Name: config.glue.table,
        TableType: t.TableType,
        Parameters: t.Parameters,
        PartitionKeys: t.PartitionKeys,
        StorageDescriptor: {
          ...t.StorageDescriptor,
          Location: s3Url(config.lake.bucket, tableRoot(config.lake.prefix, config.glue.table)),
        },
      },
    }),
  );
}

/** One drain of the whole topic by ticklake's sink (a sink workflow on the worker subprocess). */
async function drainTicklake(ctx: Context, run: number, tag: string): Promise<DrainRun> {
  const config = ticklakeConfig(ctx, ctx.topic, tag);
  await ensureBucket(ctx.s3, config.lake.bucket);
  await prepareTicklakeTable(ctx, config);
  const group = config.sink.groupId;
  const cpuBefore = ctx.worker.cpuSeconds() ?? NaN;
  const rss = rssSampler(ctx.worker.pid);
  const started = Date.now();
  // Its own workflow id: every run drains the same topic.
  const sink = await startSink(ctx.client, config, { instance: 100 + run });
  const joinedAt = await waitFor(
    `ticklake's sink group ${group} to join`,
    async () => (await groupJoined(ctx.admin, group)) && Date.now(),
    120_000,
    25,
  );
  const doneAt = await waitFor(
    `ticklake's sink group ${group} to commit the end offsets`,
    async () => (await totalLag(ctx.admin, group, ctx.topic)) === 0n && Date.now(),
    600_000,
    50,
  );
  const cpuS = (ctx.worker.cpuSeconds() ?? NaN) - cpuBefore;
  const peakRssMb = rss.stop();
  // Queryable through Glue: every partition registered (the sink's notices, through the crawl workflow).
  const catalogAt = await waitFor(
    `the Glue catalog to hold ticklake's ${ctx.partitions} partitions`,
    async () =>
      (await registeredPartitions(ctx.glue, config.glue.database, config.glue.table).catch(() => new Set())).size >=
        ctx.partitions && Date.now(),
    120_000,
    100,
  );
  await stopSink(sink);
  const written = await objectStats(ctx.s3, config.lake.bucket);
  // The Parquet path: the drained lake compacted into the curated zone at once (no quiet period), raw
  // objects kept, on the same worker; its CPU seconds added to the sink's are what Parquet costs.
  const compactCpuBefore = ctx.worker.cpuSeconds() ?? NaN;
  const compactStarted = Date.now();
  const compaction = await (await startCompaction(ctx.client, config, { quietMs: 0 })).result();
  const parquetSeconds = (Date.now() - compactStarted) / 1000;
  const parquetCpuS = (ctx.worker.cpuSeconds() ?? NaN) - compactCpuBefore;
  const curated = await objectStats(ctx.s3, config.lake.bucket, config.compact.curatedPrefix);
  // Each window's file was checked against its raw objects (rows and checksum) before the switch.
  const parquetVerified = compaction.failed.length === 0 && compaction.totals.rows === ctx.records;
  log(
    `  ticklake run ${tag}: compacted ${compaction.totals.rows} rows into ${curated.objects} Parquet files ` +
      `(${(curated.bytes / 1024 / 1024).toFixed(1)} MB) in ${parquetSeconds.toFixed(2)} s, ${parquetCpuS.toFixed(2)} CPU s; ` +
      `failed windows: ${compaction.failed.length}`,
  );
  const lake = await readLakeObjects(ctx.s3, config.lake.bucket, tableRoot(config.lake.prefix, config.glue.table));
  const diff = diffLake(
    ctx.expected,
    lake.flatMap((o) => o.records),
  );
  log(describeDiff(`  ticklake run ${tag}: lake vs CSV`, diff));
  log(`  (${((joinedAt - started) / 1000).toFixed(2)} s from the workflow start to the group join)`);
  return {
    run,
    records: ctx.records,
    drainS: (doneAt - joinedAt) / 1000,
    cpuS,
    peakRssMb,
    objects: written.objects,
    bytes: written.bytes,
    verified: exactlyOnce(diff) && parquetVerified,
    catalogS: (catalogAt - joinedAt) / 1000,
    parquet: {
      seconds: parquetSeconds,
      cpuS: parquetCpuS,
      rows: compaction.totals.rows,
      files: curated.objects,
      bytes: curated.bytes,
    },
  };
}

interface PeerNames {
  database: string;
  table: string;
  bucket: string;
  controlTopic: string;
  connector: string;
}

function peerNames(ctx: Context, topic: string, tag: string): PeerNames {
  const database = `peers_${ctx.id}_${tag}`.replace(/-/g, '_');
  return {
    database,
    table: 'ticks',
    bucket: `tl-peers-${ctx.id}-p${tag}`,
    controlTopic: `${topic}.control-${tag}`,
    connector: `iceberg-${ctx.id}-${tag}`,
  };
}

/** Bucket, table (through Iceberg's catalog) and control topic of one peer run; returns its catalog properties. */
async function preparePeer(ctx: Context, n: PeerNames): Promise<Record<string, string>> {
  await ensureBucket(ctx.s3, n.bucket);
  const catalog = ctx.catalogFor(n.bucket);
  await ctx.tool.run('create', `${n.database}.${n.table}`, catalog);
  await ctx.admin.createTopics({ topics: [{ topic: n.controlTopic, numPartitions: 1 }], waitForLeaders: true });
  return catalog;
}

function startConnector(ctx: Context, n: PeerNames, topic: string, catalog: Record<string, string>): Promise<void> {
  return ctx.connect.putConnector(
    n.connector,
    icebergConnectorConfig({
      name: n.connector,
      topic,
      table: `${n.database}.${n.table}`,
      controlTopic: n.controlTopic,
      commitIntervalMs: ctx.commitIntervalMs,
      catalog,
      bootstrapServers: ctx.kafkaBrokers,
    }),
  );
}

/** Reads the Iceberg table back through its metadata and compares it with `expected`. */
async function verifyPeer(ctx: Context, n: PeerNames, catalog: Record<string, string>, expected: ExpectedRow[]) {
  const { stdout, stderr } = await ctx.tool.run('rows', `${n.database}.${n.table}`, catalog);
  const records = stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const said = stderr.split('\n').find((l) => l.startsWith('read '));
  return { diff: diffLake(expected, records), said };
}

/** One drain of the whole topic by the peer (a connector on the Connect worker). */
async function drainPeer(ctx: Context, run: number, tag: string): Promise<DrainRun> {
  const n = peerNames(ctx, ctx.topic, tag);
  const catalog = await preparePeer(ctx, n);
  const watcher = tableWatcher(ctx.glue, ctx.s3, n.database, n.table);
  const group = connectGroupId(n.connector);
  const cpuBefore = ctx.connect.cpuSeconds();
  const rss = rssSampler(ctx.connect.pid);
  const started = Date.now();
  await startConnector(ctx, n, ctx.topic, catalog);
  const joinedAt = await waitFor(
    `the peer's group ${group} to join`,
    async () => (await groupJoined(ctx.admin, group)) && Date.now(),
    300_000,
    25,
  );
  let checkedAt = 0;
  const doneAt = await waitFor(
    `the peer's table ${n.database}.${n.table} to commit ${ctx.records} records`,
    async () => {
      if (Date.now() - checkedAt > 1000) {
        checkedAt = Date.now();
        await ctx.connect.check(n.connector).catch((err: Error) => {
          throw new Error(`the peer's ${err.message}; see ${ctx.connect.logFile}`);
        });
      }
      const meta = await watcher.poll();
      return meta !== undefined && currentRecords(meta) >= ctx.records && Date.now();
    },
    900_000,
    50,
  );
  const cpuS = ctx.connect.cpuSeconds() - cpuBefore;
  const peakRssMb = rss.stop();
  await ctx.connect.deleteConnector(n.connector);
  const written = await objectStats(ctx.s3, n.bucket);
  const { diff, said } = await verifyPeer(ctx, n, catalog, ctx.expected);
  log(describeDiff(`  peer run ${tag}: Iceberg table vs CSV`, diff) + (said ? `; the reader: ${said}` : ''));
  log(`  (${((joinedAt - started) / 1000).toFixed(2)} s from the connector's creation to the group join)`);
  return {
    run,
    records: ctx.records,
    drainS: (doneAt - joinedAt) / 1000,
    cpuS,
    peakRssMb,
    objects: written.objects,
    bytes: written.bytes,
    verified: exactlyOnce(diff),
  };
}

/** Polls `probe` every `everyMs` until stopped; errors are retried (a table that does not exist yet). */
function poller(everyMs: number, probe: (at: number) => Promise<void>) {
  let running = true;
  const done = (async () => {
    while (running) {
      const at = Date.now();
      await probe(at).catch(() => undefined);
      await sleep(Math.max(0, everyMs - (Date.now() - at)));
    }
  })();
  return {
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

interface FreshInput {
  /**
   * A few hundred rows produced first, at full speed, and waited for: the sink has then made records
   * visible once (the peer: its first commit cycle is done), as a long-running sink has.
   */
  primer: string;
  /** The measured rows, produced at `rate`. */
  file: string;
  /** The rows of both files. */
  expected: ExpectedRow[];
  /** The rows of the primer. */
  primerRows: ExpectedRow[];
  rate: number;
}

function freshnessOf(samples: number[], rate: number, verified: boolean): Freshness {
  return {
    rate,
    records: samples.length,
    p50Ms: Math.round(percentile(samples, 50)),
    p99Ms: Math.round(percentile(samples, 99)),
    maxMs: Math.round(Math.max(...samples)),
    verified,
  };
}

/** ticklake: a record is fresh once its object is listed and its partition registered in Glue. */
async function freshTicklake(ctx: Context, input: FreshInput): Promise<Freshness> {
  const topic = `peers-${ctx.id}-fresh-t`;
  const config = ticklakeConfig(ctx, topic, 'fresh');
  await ensureTopics(ctx.admin, config.kafka, [topic, config.kafka.dlqTopic, config.kafka.positionsTopic]);
  await ensureBucket(ctx.s3, config.lake.bucket);
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const sink = await startSink(ctx.client, config);
  await waitFor('the freshness sink to join', async () => groupJoined(ctx.admin, config.sink.groupId), 120_000, 50);
  const keySeen = new Map<string, number>();
  const partitionSeen = new Map<string, number>();
  const poll = poller(100, async (at) => {
    for (const key of await listKeys(ctx.s3, config.lake.bucket, root)) if (!keySeen.has(key)) keySeen.set(key, at);
    for (const p of await registeredPartitions(ctx.glue, config.glue.database, config.glue.table)) {
      if (!partitionSeen.has(p)) partitionSeen.set(p, at);
    }
  });
  const visible = async (folders: Set<string>) =>
    (await totalLag(ctx.admin, config.sink.groupId, topic)) === 0n && [...folders].every((f) => partitionSeen.has(f));
  await fillTopic(config, input.primer, 1, { mode: 'max' }, `${topic}-primer`);
  // The primer's partitions registered: the table exists, as it does for a long-running sink (and as
  // the peer's does, created before its runs); its creation is not in the measured records' path.
  const primed = lakePartitions(input.primerRows, config);
  await waitFor('ticklake to make the primer visible', () => visible(primed), 120_000, 100);
  const measuredFrom = Date.now();
  const produced = await fillTopic(
    config,
    input.file,
    1,
    { mode: 'rows', rowsPerSecond: input.rate },
    `${topic}-measured`,
  );
  const folders = lakePartitions(input.expected, config);
  await waitFor('ticklake to make every freshness record visible', () => visible(folders), 120_000, 100);
  await sleep(300);
  await poll.stop();
  await stopSink(sink);
  const objects = await readLakeObjects(ctx.s3, config.lake.bucket, root);
  const samples: number[] = [];
  // What the figure is made of: the object's listing alone, and how many records waited for the catalog.
  const listedOnly: number[] = [];
  let waitedForCatalog = 0;
  // Partitions registered after one of their objects was listed: how long after their first record.
  const firstIngested = new Map<string, number>();
  const lateRegistrations = new Map<string, number>();
  for (const { key, records } of objects) {
    const parsed = parseDataObjectKey(key, root, config.lake.partitionBy);
    if (!parsed) throw new Error(`${key} is not a data object of the table`);
    const listed = keySeen.get(key);
    const registered = partitionSeen.get(partitionId(parsed.values));
    if (listed === undefined || registered === undefined) throw new Error(`object ${key} was never seen visible`);
    for (const r of records) {
      const ingested = Date.parse(String(r.ingested_at));
      if (ingested < measuredFrom) continue;
      samples.push(Math.max(listed, registered) - ingested);
      listedOnly.push(listed - ingested);
      const id = partitionId(parsed.values);
      firstIngested.set(id, Math.min(firstIngested.get(id) ?? Infinity, ingested));
      if (registered > listed) {
        waitedForCatalog++;
        lateRegistrations.set(id, registered);
      }
    }
  }
  const lateBy = [...lateRegistrations].map(([id, at]) => at - firstIngested.get(id)!);
  log(
    `  ticklake freshness, the object listed alone: p50 ${Math.round(percentile(listedOnly, 50))} ms, ` +
      `p99 ${Math.round(percentile(listedOnly, 99))} ms; ${waitedForCatalog} of ${listedOnly.length} records ` +
      'were listed before their partition was registered' +
      (lateBy.length > 0
        ? ` (${lateBy.length} of ${firstIngested.size} partitions, registered p50 ${Math.round(percentile(lateBy, 50))} ms, ` +
          `max ${Math.round(Math.max(...lateBy))} ms after their first record)`
        : ''),
  );
  const diff = diffLake(
    input.expected,
    objects.flatMap((o) => o.records),
  );
  log(describeDiff(`  ticklake freshness run (${produced} records produced after the primer)`, diff));
  return freshnessOf(samples, input.rate, exactlyOnce(diff) && samples.length === produced);
}

/** The peer: a record is fresh once a snapshot holding it is the table's current one. */
async function freshPeer(ctx: Context, input: FreshInput): Promise<Freshness> {
  const topic = `peers-${ctx.id}-fresh-p`;
  const config = ticklakeConfig(ctx, topic, 'freshp');
  await ensureTopics(ctx.admin, config.kafka, [topic, config.kafka.dlqTopic, config.kafka.positionsTopic]);
  const n = peerNames(ctx, topic, 'fresh');
  const catalog = await preparePeer(ctx, n);
  await startConnector(ctx, n, topic, catalog);
  await waitFor(
    "the peer's freshness connector to run and join",
    async () => (await ctx.connect.check(n.connector)) && groupJoined(ctx.admin, connectGroupId(n.connector)),
    300_000,
    100,
  );
  const watcher = tableWatcher(ctx.glue, ctx.s3, n.database, n.table);
  const snapshotSeen = new Map<string, number>();
  let latest: TableMetadataInfo | undefined;
  const poll = poller(100, async (at) => {
    latest = await watcher.poll();
    for (const s of latest?.snapshots ?? []) if (!snapshotSeen.has(s.id)) snapshotSeen.set(s.id, at);
  });
  const committed = async (records: number) => {
    await ctx.connect.check(n.connector);
    return latest !== undefined && currentRecords(latest) >= records;
  };
  const primed = await fillTopic(config, input.primer, 1, { mode: 'max' }, `${topic}-primer`);
  await waitFor("the peer's table to commit the primer", () => committed(primed), 300_000, 100);
  const measuredFrom = Date.now();
  const produced = await fillTopic(
    config,
    input.file,
    1,
    { mode: 'rows', rowsPerSecond: input.rate },
    `${topic}-measured`,
  );
  await waitFor('the peer to commit every freshness record', () => committed(primed + produced), 300_000, 100);
  await poll.stop();
  await ctx.connect.deleteConnector(n.connector);
  const added = parseAdded((await ctx.tool.run('added', `${n.database}.${n.table}`, catalog)).stdout);
  const samples: number[] = [];
  for (const s of added) {
    const seen = snapshotSeen.get(s.snapshot);
    if (seen === undefined) throw new Error(`snapshot ${s.snapshot} was never seen current`);
    for (const ms of s.ingestedMs) if (ms >= measuredFrom) samples.push(seen - ms);
  }
  const { diff } = await verifyPeer(ctx, n, catalog, input.expected);
  log(describeDiff(`  peer freshness run (${produced} records produced, ${added.length} snapshots)`, diff));
  return freshnessOf(samples, input.rate, exactlyOnce(diff) && samples.length === produced);
}

async function main(): Promise<void> {
  const opts = new Command('npm run bench:peers --')
    .description("ticklake's sink side by side with Apache Iceberg's Kafka Connect sink, on the real data file")
    .option('--offset <n>', 'port offset of its own stack', '10000')
    .option('--keep-stack', 'leave its own stack running (and its data dir) at the end')
    .option(
      '--data-dir <dir>',
      'data dir of its own stack (default: a new temporary one); a stack running there is reused',
    )
    .option('--runs <n>', 'measured drains of each sink, after a warm-up of each (medians are reported)', '3')
    .option('--freshness-rate <n>', 'records per second of the freshness runs', '2000')
    .option('--freshness-seconds <n>', 'seconds of each freshness run', '30')
    .option('--commit-interval-ms <n>', "the peer's table commit interval (iceberg.control.commit.interval-ms)", '1000')
    .option('--out <dir>', 'where the JSON and Markdown results go', path.join(REPO_ROOT, 'bench-results'))
    .parse(process.argv.slice(2), { from: 'user' })
    .opts<Options>();
  const csv = realCsvOrExit('npm run bench:peers');
  const runCount = Math.max(1, Number(opts.runs));
  const rate = Number(opts.freshnessRate);
  const freshSeconds = Number(opts.freshnessSeconds);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(opts.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-peers-'));
  const loadBefore = loadAverage();

  const stack = new Stack(Number(opts.offset), opts.dataDir ? path.resolve(opts.dataDir) : tempDataDir('peers-stack'));
  log(`own stack on port offset ${stack.offset}, data in ${stack.dataDir}: starting...`);
  await stack.up();
  const id = randomBytes(3).toString('hex');
  const topic = `peers-${id}`;
  const base: NodeJS.ProcessEnv = { ...stack.env, TICKLAKE_TASK_QUEUE: `peers-${id}` };
  const config = loadConfig({
    ...base,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_POSITIONS_TOPIC: `${topic}.positions`,
  });
  const credentials = config.aws.credentials!;
  const env = peerEnv(credentials, config.aws.region);
  const installDir = await installPeer(config.cacheDir, (m) => log(`peer: ${m}`));
  const aws = createAwsClients(config.aws);
  const admin = probeKafka(config.kafka, 'bench-peers').admin();
  let worker: WorkerProcess | undefined;
  let connect: ConnectWorker | undefined;
  let client: Client | undefined;
  let failed = true;
  try {
    await admin.connect();
    // 1. The topic, filled by the replay engine.
    const t0 = Date.now();
    const records = await fillTopic(config, csv);
    const expected = expectedRows(fs.readFileSync(csv, 'utf8'), path.basename(csv)).rows;
    if (records !== expected.length) {
      throw new Error(`the replay produced ${records} records, the CSV has ${expected.length} valid rows`);
    }
    log(
      `filled ${topic} (${config.kafka.partitions} partitions) with ${records} records of ${csv} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    // 2. Both sinks' processes.
    worker = new WorkerProcess(base, path.join(tmp, 'worker.log'), [], { compiled: true });
    // Connect's default REST port, shifted like every port of the stack.
    const restPort = 8083 + stack.offset;
    const [, started, tool] = await Promise.all([
      worker.ready(),
      ConnectWorker.start({
        installDir,
        dir: path.join(tmp, 'connect'),
        bootstrapServers: config.kafka.brokers.join(','),
        restPort,
        offsetFlushIntervalMs: Number(opts.commitIntervalMs),
        env,
      }),
      IcebergLakeTool.build({ installDir, dir: path.join(tmp, 'iceberg-lake'), env }),
    ]);
    connect = started;
    client = await connectClient(config.temporal);
    log(
      `ticklake worker pid ${worker.pid}; Kafka Connect ${PEER_VERSIONS.connect} pid ${connect.pid} (REST 127.0.0.1:${restPort}, log ${connect.logFile})`,
    );
    const ctx: Context = {
      id,
      base,
      topic,
      records,
      expected,
      partitions: lakePartitions(expected, config).size,
      admin,
      s3: aws.s3,
      glue: aws.glue,
      client,
      worker,
      connect,
      tool,
      commitIntervalMs: Number(opts.commitIntervalMs),
      kafkaBrokers: config.kafka.brokers.join(','),
      catalogFor: (bucket) =>
        icebergCatalogProperties({
          warehouse: `s3://${bucket}/warehouse`,
          s3Endpoint: config.aws.s3Endpoint!,
          glueEndpoint: config.aws.glueEndpoint!,
          region: config.aws.region,
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
        }),
    };

    // 3. Warm-up of each, then the measured drains, alternating which goes first.
    const show = (name: string, r: DrainRun) =>
      log(
        `${name} ${r.run === 0 ? 'warm-up' : `run ${r.run}/${runCount}`}: ${r.records} records in ${r.drainS.toFixed(2)} s ` +
          `(${Math.round(r.records / r.drainS)} records/s), CPU ${r.cpuS.toFixed(2)} s, peak RSS ${Math.round(r.peakRssMb)} MB, ` +
          `${r.objects} objects, ${(r.bytes / 1024 / 1024).toFixed(1)} MB` +
          (r.catalogS !== undefined ? `, catalog complete after ${r.catalogS.toFixed(2)} s` : '') +
          `; exactly once: ${r.verified ? 'yes' : 'NO'}; load average ${loadAverage()}`,
      );
    show('ticklake', await drainTicklake(ctx, 0, 'w'));
    const warmConfig = ticklakeConfig(ctx, ctx.topic, 'w');
    ctx.tableTemplate = await getTable(ctx.glue, warmConfig.glue.database, warmConfig.glue.table);
    if (!ctx.tableTemplate)
      throw new Error(`the warm-up left no table ${warmConfig.glue.database}.${warmConfig.glue.table}`);
    show('peer', await drainPeer(ctx, 0, 'w'));
    const tickRuns: DrainRun[] = [];
    const peerRuns: DrainRun[] = [];
    for (let i = 1; i <= runCount; i++) {
      const order = i % 2 === 1 ? (['peer', 'ticklake'] as const) : (['ticklake', 'peer'] as const);
      for (const which of order) {
        const r = which === 'peer' ? await drainPeer(ctx, i, `r${i}`) : await drainTicklake(ctx, i, `r${i}`);
        (which === 'peer' ? peerRuns : tickRuns).push(r);
        show(which, r);
      }
    }

    // 4. Freshness at a steady rate.
    const lines = fs.readFileSync(csv, 'utf8').split(/\r?\n/);
    const primerRows = 200;
    const primer = path.join(tmp, 'fresh-primer.csv');
    fs.writeFileSync(primer, lines.slice(0, 1 + primerRows).join('\n') + '\n');
    const freshFile = path.join(tmp, `fresh-${rate}x${freshSeconds}.csv`);
    fs.writeFileSync(
      freshFile,
      [lines[0], ...lines.slice(1 + primerRows, 1 + primerRows + rate * freshSeconds)].join('\n') + '\n',
    );
    const rowsOf = (f: string) => expectedRows(fs.readFileSync(f, 'utf8'), path.basename(f)).rows;
    const primed = rowsOf(primer);
    const freshInput = {
      primer,
      file: freshFile,
      expected: [...primed, ...rowsOf(freshFile)],
      primerRows: primed,
      rate,
    };
    const tickFresh = await freshTicklake(ctx, freshInput);
    log(
      `ticklake freshness at ${rate} records/s: p50 ${tickFresh.p50Ms} ms, p99 ${tickFresh.p99Ms} ms, max ${tickFresh.maxMs} ms (${tickFresh.records} records)`,
    );
    const peerFresh = await freshPeer(ctx, freshInput);
    log(
      `peer freshness at ${rate} records/s: p50 ${peerFresh.p50Ms} ms, p99 ${peerFresh.p99Ms} ms, max ${peerFresh.maxMs} ms (${peerFresh.records} records)`,
    );

    // 5. Report.
    const ticklake: SinkFigures = { runs: tickRuns, freshness: tickFresh };
    const peer: SinkFigures = { runs: peerRuns, freshness: peerFresh };
    const peerLabel = `Iceberg sink ${PEER_VERSIONS.iceberg}`;
    const table = sideBySide(peerLabel, ticklake, peer);
    const perRun = `${runsTable('ticklake', tickRuns)}\n\n${runsTable(peerLabel, peerRuns)}`;
    const loadAfter = loadAverage();
    const result = summary({
      peer: PEER_NAME,
      peerVersion: `${PEER_VERSIONS.iceberg} on Kafka Connect ${PEER_VERSIONS.connect}`,
      ticklake,
      peerFigures: peer,
      loadAverage: { before: loadBefore, after: loadAfter },
    });
    console.log('');
    console.log(perRun);
    console.log('');
    console.log(table);
    console.log('');
    console.log(
      `ticklake's drain ends when its commits reach the end offsets (median ${round(result.catalog_s ?? NaN, 2)} s ` +
        `until Glue held every partition); the peer's when its table's current snapshot holds every record.`,
    );
    console.log(`load average ${loadBefore} before, ${loadAfter} after, on ${os.cpus().length} CPUs`);
    const outBase = path.join(opts.out, `peers-${stamp}`);
    fs.writeFileSync(`${outBase}.json`, JSON.stringify({ summary: result, ticklake, peer }, null, 2) + '\n');
    fs.writeFileSync(`${outBase}.md`, `${perRun}\n\n${table}\n`);
    log(`results: ${outBase}.json, ${outBase}.md`);
    console.log(JSON.stringify(result));
    failed = !result.verified;
    if (failed) process.exitCode = 1;
  } finally {
    await client?.connection.close().catch(() => undefined);
    await worker?.stop();
    await connect?.stop();
    await admin.disconnect().catch(() => undefined);
    if (!opts.keepStack) {
      await stack.down().catch((err: unknown) => log(String(err)));
      if (!opts.dataDir) fs.rmSync(stack.dataDir, { recursive: true, force: true });
    } else log(`stack left running: TICKLAKE_PORT_OFFSET=${stack.offset} TICKLAKE_DATA_DIR=${stack.dataDir}`);
    // The two sinks' logs beside the results (the Connect worker's says what each commit cycle did).
    for (const [from, name] of [
      [connect?.logFile, 'connect.log'],
      [worker?.logFile, 'worker.log'],
    ] as const) {
      if (from && fs.existsSync(from)) fs.copyFileSync(from, path.join(opts.out, `peers-${stamp}-${name}`));
    }
    if (failed) log(`logs kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(`npm run bench:peers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

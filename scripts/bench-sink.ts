/**
 * `npm run bench:sink`: the S3 sink on the local services (npm run services -- up).
 *
 * 1. drain: the real file (TICKLAKE_REAL_CSV, else the sample) is produced into a fresh topic by the
 *    replay engine itself (src/replay/replayer.ts, at full speed); then the sink workflow starts on a
 *    worker in this process and drains it. records/s = records / (time from the sink's group join, after
 *    which it fetches, to lag 0: the broker's answer to the commit that reaches the topic's end offsets,
 *    seen by the sink's commit hook and checked against the group's lag afterwards); peak RSS is
 *    sampled in this process (the worker) during the drain.
 * 2. freshness: with the sink caught up, ticks are produced at a steady BENCH_SINK_RATE (2,000/s) for
 *    BENCH_SINK_FRESHNESS_S (30) s; for every record, the time from its production (`ingested_at`) to
 *    the moment its object's write returned from S3. p50 and p99.
 * 3. baseline: a plain consumer that PUTs one S3 object per record (into the same Hive folders as the
 *    sink, as the script of `npm run bench` does) and relies on auto-commit, the way
 *    simple Kafka-to-S3 scripts do, reads the same topic for BENCH_SINK_BASELINE_S (15) s; its rate is
 *    measured on that subset and compared as a rate.
 *
 * Before the drain, the sink drains the same file once from a topic and lake prefix of its own (a
 * warm-up: the measured drain, every path of it including the S3 writes, runs on compiled code as in a
 * long-running sink; a warm-up on the small sample, 20 objects, left the S3 client's path cold: about
 * 0.7 ms of CPU more per object).
 *
 * Every topic, group and bucket is the run's own (`bench-sink-<id>`) and removed at the end; the
 * cleanup refuses to delete a topic of any other name.
 *
 * Prints the figures, and as its last line one JSON object.
 * Knobs: BENCH_SINK_COPIES (times the file is produced, default 1), BENCH_SINK_RATE,
 * BENCH_SINK_FRESHNESS_S, BENCH_SINK_BASELINE_S, BENCH_SINK_PROFILE (a .cpuprofile file for the drain),
 * BENCH_SINK_TIMELINE=1 (a line per flush of the drain: its records and objects, when its oldest record
 * arrived and when its objects were durable, in ms after the group join).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createSinkActivities } from '../activities/sink';
import { createAwsClients } from '../src/adapters/aws';
import { createKafka, endOffsets, groupLag } from '../src/adapters/kafka';
import { connectClient, connectWorker } from '../src/adapters/temporal';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { tableRoot } from '../src/lake-layout';
import { prepareInfrastructure, startSink } from '../src/pipeline';
import { decodeLines } from '../src/sink/format';
import type { FlushResult } from '../src/sink/partition-writer';
import { s3SinkStorage } from '../src/sink/storage';
import { baselineObjectKey } from './bench/baseline';
import { stopSink } from './bench/common';
import { BENCH_CSV, fillTopic } from './bench/fill';
import {
  TickProducer,
  deleteBucketAndObjects,
  sourceRows,
  testKafka,
  toMessage,
} from '../test/integration/sink-support';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const COPIES = env('BENCH_SINK_COPIES', 1);
const RATE = env('BENCH_SINK_RATE', 2000);
const FRESHNESS_S = env('BENCH_SINK_FRESHNESS_S', 30);
const BASELINE_S = env('BENCH_SINK_BASELINE_S', 15);
/** Where to write a V8 CPU profile of the drain (this process: the sink and its worker), if set. */
const PROFILE = process.env.BENCH_SINK_PROFILE ? path.resolve(process.env.BENCH_SINK_PROFILE) : undefined;
const TIMELINE = process.env.BENCH_SINK_TIMELINE === '1';
const FILE = BENCH_CSV;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Total lag of a group, from one admin connection kept open (polling must not cost the measured process much). */
function lagWatcher(config: TicklakeConfig, groupId: string) {
  const admin = testKafka(config.kafka).admin();
  const connected = admin.connect();
  return {
    /** The group's total lag; retried while the broker answers with a retriable error (NOT_COORDINATOR on a fresh broker). */
    async total(): Promise<bigint> {
      await connected;
      for (let attempt = 1; ; attempt++) {
        try {
          return [...(await groupLag(admin, groupId, config.kafka.topic)).values()].reduce((a, b) => a + b, 0n);
        } catch (err) {
          if (!(err as { retriable?: boolean }).retriable || attempt >= 50) throw err;
          await sleep(100);
        }
      }
    },
    /** End offset of each partition of the topic. */
    async ends(): Promise<Map<number, bigint>> {
      await connected;
      return endOffsets(admin, config.kafka.topic);
    },
    close: () => admin.disconnect(),
  };
}

/**
 * The moment the sink's commits reach the given end offsets, from the sink's own commit events: the
 * drain's clock stops when the broker accepts the last commit, and nothing polls the broker meanwhile
 * from the measured process. Armed for one drain at a time.
 */
function commitClock() {
  let target: Map<number, bigint> | undefined;
  let reached: (at: number) => void = () => undefined;
  const committed = new Map<number, bigint>();
  return {
    onCommit: (partition: number, offset: bigint, at: number): void => {
      if (!target) return;
      committed.set(partition, offset);
      if ([...target].every(([p, end]) => (committed.get(p) ?? 0n) >= end)) {
        target = undefined;
        reached(at);
      }
    },
    /** Resolves with the time of the commit that brings every partition to its end offset. */
    arm(ends: Map<number, bigint>): Promise<number> {
      committed.clear();
      target = ends;
      return new Promise<number>((resolve) => (reached = resolve));
    },
  };
}

async function baseline(config: TicklakeConfig, seconds: number): Promise<{ records: number; seconds: number }> {
  const { s3 } = createAwsClients(config.aws);
  const kafka = createKafka(config.kafka, '-baseline');
  const consumer = kafka.consumer({ groupId: `${config.sink.groupId}-baseline` });
  let records = 0;
  let first = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: config.kafka.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      first ||= Date.now();
      // Into the table's Hive folders, as the script must for the table to read it (and as bench's baseline does).
      const record = JSON.parse(message.value!.toString('utf8')) as { symbol: string; trade_date: string };
      await s3.send(
        new PutObjectCommand({
          Bucket: config.lake.bucket,
          Key: baselineObjectKey('baseline/', record, partition, message.offset),
          Body: message.value!,
          ContentType: 'application/json',
        }),
      );
      records++;
    },
  });
  while (!first) await sleep(50);
  await sleep(seconds * 1000);
  const elapsed = (Date.now() - first) / 1000;
  const done = records;
  await consumer.disconnect();
  return { records: done, seconds: elapsed };
}

/** Removes what the run made: its topics and groups, and with `bucket` the whole bucket (the warm-up's objects are in it too). */
async function cleanup(config: TicklakeConfig, opts: { bucket?: boolean } = {}): Promise<void> {
  const topics = [config.kafka.topic, config.kafka.dlqTopic, config.kafka.positionsTopic];
  // Only the run's own names: never the user's topics (the positions topic is every replay's memory).
  const foreign = topics.filter((t) => !t.startsWith('bench-sink-'));
  if (foreign.length > 0) throw new Error(`bench:sink would delete topics it did not create: ${foreign.join(', ')}`);
  if (opts.bucket) await deleteBucketAndObjects(createAwsClients(config.aws).s3, config.lake.bucket);
  const admin = testKafka(config.kafka).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.deleteGroups([config.sink.groupId, `${config.sink.groupId}-baseline`]).catch(() => undefined);
  await admin.disconnect();
}

/**
 * The run's names (`bench-sink-<id>`); the warm-up's have topics, group and lake prefix of their own,
 * in the run's bucket and task queue.
 */
function benchConfig(id: string, warmup = false): TicklakeConfig {
  const name = `bench-sink-${id}${warmup ? '-warmup' : ''}`;
  return loadConfig({
    ...process.env,
    KAFKA_TOPIC: name,
    KAFKA_DLQ_TOPIC: `${name}.dlq`,
    KAFKA_POSITIONS_TOPIC: `${name}.positions`,
    SINK_GROUP_ID: name,
    LAKE_BUCKET: `tl-bench-sink-${id}`,
    ...(warmup ? { LAKE_PREFIX: 'warmup/' } : {}),
    TICKLAKE_TASK_QUEUE: `bench-sink-${id}`,
    TICKLAKE_METRICS_PORT: '0',
  });
}

async function main(): Promise<void> {
  const [mode, id, copies, which] = process.argv.slice(2);
  if (mode === 'fill') {
    const warmup = which === 'warmup';
    // In a child process (see fillInChild below), so that this process's memory is the worker's.
    const n = await fillTopic(benchConfig(id, warmup), FILE, warmup ? 1 : Number(copies));
    console.log(String(n));
    return;
  }
  const runId = randomBytes(3).toString('hex');
  const config = benchConfig(runId);
  await prepareInfrastructure(config);
  console.error(
    `bench:sink ${FILE} x${COPIES} into topic ${config.kafka.topic} (${config.kafka.partitions} partitions)`,
  );

  const warm = benchConfig(runId, true);
  await prepareInfrastructure(warm);
  const fillStarted = Date.now();
  const fillInChild = (which: 'main' | 'warmup') => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, 'fill', runId, String(COPIES), which], {
      cwd: REPO_ROOT,
      env: process.env,
      encoding: 'utf8',
    });
    return Number(out.trim().split('\n').pop());
  };
  const warmRecords = fillInChild('warmup');
  const records = fillInChild('main');
  console.error(`pre-filled ${records} records in ${((Date.now() - fillStarted) / 1000).toFixed(1)} s`);

  // The worker: the real sink activity, its storage wrapped to time object writes.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
  });
  const aws = createAwsClients(config.aws);
  let client: Promise<Client> | undefined;
  const temporal = () => (client ??= connectClient(config.temporal));
  const freshness: number[] = [];
  let measuringFreshness = false;
  let firstReceived = Number.POSITIVE_INFINITY;
  let flushes = 0;
  let objects = 0;
  let objectBytes = 0;
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const storage = (bucket: string) => {
    const inner = s3SinkStorage(aws.s3, bucket);
    return {
      ...inner,
      async put(key: string, body: Buffer, contentType: string) {
        await inner.put(key, body, contentType);
        if (!measuringFreshness || !key.startsWith(root)) return;
        const durableAt = Date.now();
        for (const line of decodeLines(body, key)) {
          freshness.push(durableAt - Date.parse((JSON.parse(line) as { ingested_at: string }).ingested_at));
        }
      },
    };
  };
  let joinedAt = 0;
  const onJoin = (_partitions: number[], at: number) => (joinedAt ||= at);
  let timeline: string[] = [];
  const onFlush = (r: FlushResult, durableAt: number) => {
    if (!measuringFreshness)
      timeline.push(
        `  partition ${r.manifest.partition}: ${r.records} records, ${r.files} objects; oldest record received at ` +
          `${r.oldestReceivedAt - joinedAt} ms, durable at ${durableAt - joinedAt} ms`,
      );
    flushes++;
    objects += r.files;
    objectBytes += r.bytes;
    firstReceived = Math.min(firstReceived, r.oldestReceivedAt);
  };
  const clock = commitClock();
  const connection = await connectWorker(config.temporal);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createSinkActivities({
      kafka: createKafka(config.kafka),
      s3: aws.s3,
      storage,
      onFlush,
      onJoin,
      onCommit: clock.onCommit,
      consumer: {
        maxBytesPerPartition: process.env.BENCH_SINK_FETCH_PARTITION_KB
          ? env('BENCH_SINK_FETCH_PARTITION_KB', 0) * 1024
          : undefined,
        maxBytes: process.env.BENCH_SINK_FETCH_KB ? env('BENCH_SINK_FETCH_KB', 0) * 1024 : undefined,
      },
    }),
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
  const running = worker.run();
  const c = await temporal();

  // 0. Warm-up: the sink drains the same file once, in a topic and prefix of its own, so that the
  // measured drain runs on compiled code as a long-running sink does, not on a cold start.
  const warmLag = lagWatcher(warm, warm.sink.groupId);
  const warmSink = await startSink(c, warm, { notices: false });
  while ((await warmLag.total()) > 0n) await sleep(25);
  await stopSink(warmSink);
  await warmLag.close();
  joinedAt = 0;
  firstReceived = Number.POSITIVE_INFINITY;
  flushes = objects = objectBytes = 0;
  timeline = [];
  console.error(`warm-up: the sink drained ${warmRecords} records of ${path.basename(FILE)}`);

  // 1. Drain.
  const lag = lagWatcher(config, config.sink.groupId);
  await lag.total();
  const caughtUpAt = clock.arm(await lag.ends());
  let peakRss = process.memoryUsage().rss;
  const idleRss = peakRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const profiler = PROFILE ? new inspector.Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  const loadBefore = os.loadavg()[0];
  const sink = await startSink(c, config, { notices: false });
  // A sink that fails or ends before the drain does ends the benchmark, instead of a wait without end.
  const caughtUp = await Promise.race([
    caughtUpAt,
    sink.result().then(() => Promise.reject(new Error('the sink workflow ended before it drained the topic'))),
  ]);
  const left = await lag.total();
  if (left > 0n) throw new Error(`the sink's commits reached the topic's end offsets, but the group's lag is ${left}`);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    fs.writeFileSync(PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
    console.error(`drain: CPU profile of this process written to ${PROFILE}`);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  clearInterval(sampler);
  // From the moment the consumer owns the partitions (its first fetch follows) to lag 0.
  const drainSeconds = (caughtUp - joinedAt) / 1000;
  const recordsPerS = records / drainSeconds;
  const drain = { flushes, objects, bytes: objectBytes };
  console.error(
    `drain: ${records} records in ${drainSeconds.toFixed(2)} s from the group join to lag 0 (first records ` +
      `received after ${firstReceived - joinedAt} ms; ${((caughtUp - started) / 1000).toFixed(2)} s from the ` +
      `workflow start, incl. activity start and group join): ` +
      `${Math.round(recordsPerS)} records/s; ${drain.flushes} flushes, ${drain.objects} objects, ${mb(drain.bytes)} MB; ` +
      `peak RSS ${mb(peakRss)} MB (idle worker ${mb(idleRss)} MB); this process used ${Math.round(cpuMs)} ms of CPU ` +
      `(${Math.round((cpuMs * 1000) / records)} µs per record, all threads); load average ${loadBefore.toFixed(1)} ` +
      `before, ${os.loadavg()[0].toFixed(1)} after (2 cores: above 2, other work competes for the CPU)`,
  );

  if (TIMELINE) console.error(`drain: flushes, in ms after the group join:\n${timeline.join('\n')}`);

  // 2. Freshness at a steady rate.
  measuringFreshness = true;
  const rows = sourceRows(FILE);
  const producer = new TickProducer(testKafka(config.kafka), config.kafka.topic, `bench-live-${config.kafka.topic}`);
  const chunk = Math.max(1, Math.round(RATE / 20));
  const liveStarted = Date.now();
  let sent = 0;
  while (Date.now() - liveStarted < FRESHNESS_S * 1000) {
    const at = new Date();
    const batch = [];
    for (let i = 0; i < chunk; i++) batch.push(toMessage(rows[(sent + i) % rows.length], 'freshness', at));
    await producer.send(batch);
    sent += chunk;
    const due = liveStarted + (sent / RATE) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  const liveSeconds = (Date.now() - liveStarted) / 1000;
  await producer.close();
  while ((await lag.total()) > 0n) await sleep(100);
  await sleep(500);
  measuringFreshness = false;
  freshness.sort((a, b) => a - b);
  const p50 = percentile(freshness, 50);
  const p99 = percentile(freshness, 99);
  console.error(
    `freshness: ${sent} records at ${Math.round(sent / liveSeconds)} records/s for ${liveSeconds.toFixed(0)} s; ` +
      `produce to durable object p50 ${p50} ms, p99 ${p99} ms, max ${freshness[freshness.length - 1]} ms ` +
      `(${freshness.length} samples; SINK_FLUSH_MS=${config.sink.flushMs})`,
  );

  await lag.close();
  await stopSink(sink);
  worker.shutdown();
  await running;

  // 3. Baseline: one object per record.
  const base = await baseline(config, BASELINE_S);
  const baselinePerS = base.records / base.seconds;
  console.error(
    `baseline (one PUT per record, auto-commit): ${base.records} records in ${base.seconds.toFixed(1)} s = ` +
      `${Math.round(baselinePerS)} records/s (measured on that subset; a rate)`,
  );

  await cleanup(config, { bucket: true });
  await cleanup(warm);
  await connection.close();
  await (await temporal()).connection.close();
  const result = {
    records,
    records_per_s: Math.round(recordsPerS),
    drain_s: Number(drainSeconds.toFixed(2)),
    baseline_records_per_s: Math.round(baselinePerS),
    baseline_records: base.records,
    ratio: Number((recordsPerS / baselinePerS).toFixed(1)),
    freshness_p50_ms: p50,
    freshness_p99_ms: p99,
    freshness_samples: freshness.length,
    freshness_rate_per_s: Math.round(sent / liveSeconds),
    peak_rss_mb: mb(peakRss),
    idle_rss_mb: mb(idleRss),
    drain_cpu_us_per_record: Math.round((cpuMs * 1000) / records),
    load_average: Number(loadBefore.toFixed(1)),
    drain_flushes: drain.flushes,
    drain_objects: drain.objects,
  };
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:sink failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);

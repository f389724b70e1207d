/**
 * `npm run bench:consume`: what it costs to read the sink's input with each Kafka client for Node.js,
 * on the local services (npm run services -- up). The evidence behind the sink's use of kafkajs.
 *
 * The real file (TICKLAKE_REAL_CSV, else the sample) is produced into a topic of the run's own by the
 * replay engine (gzip, as every replay writes). Then each client reads the whole topic, doing nothing
 * with the records but count them, in a child process of its own (a fresh group each time),
 * BENCH_CONSUME_RUNS (3) times in turn:
 * - `kafkajs`: the sink's consumer, with the sink's fetch settings (1 MiB a partition, 4 MiB a fetch,
 *   four partitions at once, eachBatch);
 * - `confluent-kafkajs`: @confluentinc/kafka-javascript's KafkaJS-compatible consumer (librdkafka
 *   underneath), eachBatch with batches of up to 1,000 messages;
 * - `librdkafka`: the same package's native consumer, `consume(5000)` in a loop.
 * Figures per run: the time from connect to the last record (the group join included, for all three),
 * and the CPU the child used in that time, on every thread. The medians are printed, and as the last
 * line one JSON object. The topic and groups are removed at the end.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { KafkaJS, KafkaConsumer, type LibrdKafkaError, type Message } from '@confluentinc/kafka-javascript';
import { loadConfig, REPO_ROOT } from '../src/config';
import { createKafka } from '../src/adapters/kafka';
import { uniqueNames } from './bench/common';
import { BENCH_CSV, fillTopic } from './bench/fill';
import { median, round } from './bench/stats';
import { removeResources } from '../test/integration/sink-support';

const CLIENTS = ['kafkajs', 'confluent-kafkajs', 'librdkafka'] as const;
type ClientName = (typeof CLIENTS)[number];
const RUNS = process.env.BENCH_CONSUME_RUNS ? Number(process.env.BENCH_CONSUME_RUNS) : 3;
const FILE = BENCH_CSV;

interface ReadResult {
  records: number;
  ms: number;
  cpuMs: number;
}

/** Reads `expected` records of the topic with one client; resolves when the last one is in. */
async function read(client: ClientName, brokers: string[], topic: string, expected: number): Promise<ReadResult> {
  const groupId = `${topic}-${client}-${Date.now()}`;
  let records = 0;
  let done!: () => void;
  const allIn = new Promise<void>((resolve) => (done = resolve));
  const count = (n: number) => {
    records += n;
    if (records >= expected) done();
  };
  const started = Date.now();
  const cpu = process.cpuUsage();
  let stop: () => Promise<void>;
  if (client === 'kafkajs') {
    const consumer = createKafka({ ...loadConfig(process.env).kafka, brokers }, '-bench-consume').consumer({
      groupId,
      maxBytesPerPartition: 1024 * 1024,
      maxBytes: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: ({ batch }) => Promise.resolve(count(batch.messages.length)),
    });
    stop = () => consumer.disconnect();
  } else if (client === 'confluent-kafkajs') {
    const consumer = new KafkaJS.Kafka({ kafkaJS: { brokers, logLevel: KafkaJS.logLevel.ERROR } }).consumer({
      kafkaJS: { groupId, fromBeginning: true, autoCommit: false },
      'js.consumer.max.batch.size': 1000,
    });
    await consumer.connect();
    await consumer.subscribe({ topic });
    await consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: ({ batch }) => Promise.resolve(count(batch.messages.length)),
    });
    stop = () => consumer.disconnect();
  } else {
    const consumer = new KafkaConsumer(
      { 'group.id': groupId, 'metadata.broker.list': brokers.join(','), 'enable.auto.commit': false },
      { 'auto.offset.reset': 'earliest' },
    );
    await new Promise<void>((resolve, reject) =>
      consumer.connect({}, (err) => (err ? reject(new Error(err.message)) : resolve())),
    );
    consumer.subscribe([topic]);
    let running = true;
    const loop = () =>
      consumer.consume(5000, (err: LibrdKafkaError | null, messages: Message[]) => {
        if (!running) return; // a read still in flight when the consumer disconnected
        if (err) throw new Error(`librdkafka: ${err.message}`);
        count(messages.length);
        if (running) setImmediate(loop);
      });
    loop();
    stop = async () => {
      running = false;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    };
  }
  await allIn;
  const ms = Date.now() - started;
  const used = process.cpuUsage(cpu);
  await stop();
  return { records, ms, cpuMs: (used.user + used.system) / 1000 };
}

async function main(): Promise<void> {
  const [mode, client, topic, expected] = process.argv.slice(2);
  const brokers = loadConfig(process.env).kafka.brokers;
  if (mode === 'read') {
    console.log(JSON.stringify(await read(client as ClientName, brokers, topic, Number(expected))));
    return;
  }
  const config = loadConfig({ ...process.env, ...uniqueNames('consume'), TICKLAKE_METRICS_PORT: '0' });
  const { topic: name } = config.kafka;
  try {
    const records = await fillTopic(config, FILE);
    console.error(
      `bench:consume: ${records} records of ${path.basename(FILE)} in topic ${name}; ${RUNS} runs a client`,
    );
    const results = new Map<ClientName, ReadResult[]>(CLIENTS.map((c) => [c, []]));
    for (let run = 0; run < RUNS; run++) {
      for (const c of CLIENTS) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, 'read', c, name, String(records)], {
          cwd: REPO_ROOT,
          env: process.env,
          encoding: 'utf8',
        });
        const r = JSON.parse(out.trim().split('\n').pop()!) as ReadResult;
        if (r.records < records) throw new Error(`${c} read ${r.records} of ${records} records`);
        results.get(c)!.push(r);
        console.error(`  ${c}: ${r.ms} ms, ${Math.round(r.cpuMs)} ms of CPU`);
      }
    }
    // kafkajs, the sink's client, is the baseline the others are compared with.
    const summary: Record<string, number> = { records };
    const medians = (c: ClientName) => ({
      ms: median(results.get(c)!.map((r) => r.ms)),
      cpuMs: median(results.get(c)!.map((r) => r.cpuMs)),
    });
    const base = medians('kafkajs');
    for (const c of CLIENTS) {
      const { ms, cpuMs } = medians(c);
      const vs =
        c === 'kafkajs'
          ? ''
          : `; ${(ms / base.ms).toFixed(2)}x the time, ${(cpuMs / base.cpuMs).toFixed(2)}x the CPU of kafkajs`;
      console.error(
        `${c.padEnd(18)} median ${ms} ms from connect to the last record (${Math.round(records / (ms / 1000))} ` +
          `records/s), ${Math.round(cpuMs)} ms of CPU (${((cpuMs * 1000) / records).toFixed(1)} µs a record)${vs}`,
      );
      const key = c.replace(/-/g, '_');
      summary[`${key}_ms`] = ms;
      summary[`${key}_cpu_ms`] = Math.round(cpuMs);
      if (c !== 'kafkajs') summary[`${key}_cpu_ratio`] = round(cpuMs / base.cpuMs, 2);
    }
    console.log(JSON.stringify(summary));
  } finally {
    await removeResources(config);
    // The readers' groups are named after the topic.
    const admin = createKafka(config.kafka, '-bench-consume').admin();
    await admin.connect();
    const { groups } = await admin.listGroups();
    await admin
      .deleteGroups(groups.map((g) => g.groupId).filter((g) => g.startsWith(`${name}-`)))
      .catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:consume failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);

/**
 * Kafka client construction and topic administration (kafkajs).
 *
 * The only places where ticklake leans on kafkajs beyond its typed, documented API are here, each
 * pinned by test/unit/kafka-internals.test.ts so that an upgrade that changes one fails there first:
 * - the table of broker error codes (`kafkajs/src/protocol/error`), for which errors kafkajs retries
 *   by itself ({@link kafkaLogCreator});
 * - a record batch's `fetchedOffset`, the offset its fetch started at ({@link batchFetchedOffset});
 * - the gzip codec, replaced through kafkajs's process-wide codec table ({@link useGzipCodec}).
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type Batch,
  type KafkaMessage,
  type KafkaConfig as KafkajsConfig,
  type logCreator,
  type SASLOptions,
} from 'kafkajs';
// Not part of kafkajs's typed API (declared in src/types/kafkajs-errors.d.ts); see the header.
import { errorCodes } from 'kafkajs/src/protocol/error';
import type { KafkaConfig } from '../config';

/**
 * Broker errors that kafkajs handles by itself: the ones it retries (a fresh broker electing a group
 * coordinator, a moving leader), and a group rebalancing, which its consumer answers by rejoining
 * (every time a sink worker joins or leaves the group).
 */
const HANDLED_ERRORS = new Set(
  errorCodes.filter((e) => e.retriable || e.type === 'REBALANCE_IN_PROGRESS').map((e) => e.message),
);

/**
 * kafkajs's log lines as JSON on stderr (its own format), except that an error response kafkajs
 * handles by itself counts as debug, not error: on a fresh broker the first group join always meets
 * "The group coordinator is not available" and then succeeds, and every heartbeat during a rebalance
 * meets "The group is rebalancing". An error that outlasts the retries still reaches the caller as a
 * thrown error.
 */
export const kafkaLogCreator: logCreator =
  (threshold) =>
  ({ namespace, level, label, log }) => {
    const { message, timestamp, ...extra } = log;
    const handled = namespace === 'Connection' && typeof extra.error === 'string' && HANDLED_ERRORS.has(extra.error);
    const effective = handled ? logLevel.DEBUG : level;
    if (effective > threshold) return;
    const line = JSON.stringify({
      level: handled ? 'DEBUG' : label,
      timestamp,
      logger: 'kafkajs',
      message,
      ...extra,
    });
    process.stderr.write(`${line}\n`);
  };

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

/** Output chunk of {@link gzipCodec}'s inflate: one thread-pool round trip per chunk. */
export const INFLATE_CHUNK_BYTES = 1024 * 1024;

/**
 * gzip for kafkajs's record batches (the replay writes gzip). kafkajs's own codec inflates with
 * zlib's default 16 KiB output chunks, one thread-pool round trip each (about 700 for the real file's
 * 11 MB), and it decodes a fetch's batches one after the other, waiting for each inflate: the
 * consumer's thread idles between the chunks. With 1 MiB chunks a batch inflates in a round trip or
 * two, and reading the real file's topic takes about 310 ms instead of 390 (docs/benchmarks.md).
 */
export const gzipCodec = {
  compress: (encoder: { buffer: Buffer }): Promise<Buffer> => gzip(encoder.buffer),
  decompress: (buffer: Buffer): Promise<Buffer> => unzip(buffer, { chunkSize: inflateChunkBytes(buffer) }),
};

/**
 * The output chunk for inflating one gzip batch: the batch's own size, from the gzip trailer (ISIZE,
 * its last four bytes, the inflated length modulo 2^32), plus one byte so that the inflate ends
 * inside the chunk; at least zlib's minimum and at most {@link INFLATE_CHUNK_BYTES}. The inflated
 * buffer is a slice of its chunk, and every record of the batch (key, value, headers) is a slice of
 * that: a sink that buffers the records keeps the whole chunk alive. With 1 MiB chunks, batches of
 * 150 KB held 1 MiB each, 175 MB in one drain of the real file. A wrong ISIZE (a batch of several
 * gzip members) only changes the chunking: a batch larger than its chunk is inflated in several and
 * joined, which copies it into a buffer of its size.
 */
export function inflateChunkBytes(gz: Buffer): number {
  const isize = gz.length >= 18 ? gz.readUInt32LE(gz.length - 4) : 0;
  return Math.min(INFLATE_CHUNK_BYTES, Math.max(zlib.constants.Z_MIN_CHUNK, isize + 1));
}

/**
 * Makes {@link gzipCodec} kafkajs's gzip codec. kafkajs keeps its codecs in one table per process
 * (`CompressionCodecs`, the way its documentation adds codecs), so this applies to every client of the
 * process; {@link createKafka} calls it. Idempotent.
 */
export function useGzipCodec(): void {
  CompressionCodecs[CompressionTypes.GZIP] = () => gzipCodec;
}

/**
 * The offset a batch's fetch started at: the committed offset (or the log start) on the first fetch
 * of a generation, which can be before the batch's first message (compacted or aborted records).
 * kafkajs's `Batch` holds it in a field its typings leave out; without it, the first message's offset.
 */
export function batchFetchedOffset(batch: Batch): string | null {
  return (batch as Batch & { fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset();
}

/**
 * One Kafka client per process; producers and consumers are created from it. `tuning` shortens
 * timeouts and retries for a client that must answer quickly (the dashboard's lag probe, the CLI's),
 * and `quiet` silences kafkajs's log for a caller that reports a broker that does not answer itself.
 */
export function createKafka(
  config: KafkaConfig,
  clientIdSuffix = '',
  { quiet, ...tuning }: Pick<KafkajsConfig, 'requestTimeout' | 'retry'> & { quiet?: boolean } = {},
): Kafka {
  useGzipCodec();
  const options: KafkajsConfig = {
    clientId: config.clientId + clientIdSuffix,
    brokers: config.brokers,
    ssl: config.ssl,
    logLevel: quiet ? logLevel.NOTHING : logLevel.ERROR,
    logCreator: kafkaLogCreator,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 5000 },
    ...tuning,
  };
  if (config.sasl) {
    options.sasl = (
      config.sasl.mechanism === 'aws'
        ? { mechanism: 'aws', authorizationIdentity: '', accessKeyId: '', secretAccessKey: '' }
        : { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password }
    ) as SASLOptions;
  }
  return new Kafka(options);
}

/** Creates the tick, dead-letter and position topics when missing; harmless when they exist. */
export async function ensureTopics(admin: Admin, config: KafkaConfig, topics?: string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = topics ?? [config.topic, config.dlqTopic];
  const create = wanted
    .filter((t) => !existing.has(t) && t !== config.positionsTopic)
    .map((topic) => ({ topic, numPartitions: config.partitions, replicationFactor: config.replicationFactor }));
  if (!existing.has(config.positionsTopic) && (topics === undefined || topics.includes(config.positionsTopic))) {
    create.push({
      topic: config.positionsTopic,
      numPartitions: 1,
      replicationFactor: config.replicationFactor,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    } as never);
  }
  if (create.length === 0) return;
  try {
    await admin.createTopics({ topics: create, waitForLeaders: true });
  } catch (err) {
    // Another process may have created the topic between the listing and the request.
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  }
}

/** Per-partition high watermarks of a topic. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

export interface ReadToEndOptions {
  /** Prefix of the read's own consumer group (a random suffix is added; the group is deleted afterwards). */
  groupPrefix: string;
  /** How long the read may take, in ms. Default 60,000. */
  timeoutMs?: number;
  /** Bytes a fetch returns at most (kafkajs's `maxBytes`; its default is 10 MiB). */
  maxBytes?: number;
  /** How long the broker holds a fetch that has nothing new, in ms (kafkajs's default is 5,000). */
  maxWaitTimeInMs?: number;
  /** What is read, for the timeout's message. Default: `topic '<topic>'`. */
  what?: string;
}

/**
 * Reads a topic's committed messages (read_committed) from the beginning up to the end offsets it has
 * when the call begins, with a consumer group of its own; `onBatch` gets each fetched batch's messages
 * below those ends. Returns the end offsets (a missing topic has none, and is read as empty).
 *
 * A partition is done when a fetch reaches its end offset as reported by END_BATCH_PROCESS, which
 * counts transaction markers and aborted records (they take offsets but reach no batch's messages), so
 * a transactional topic is read to its end too.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onBatch: (partition: number, messages: KafkaMessage[]) => void,
  opts: ReadToEndOptions,
): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${opts.groupPrefix}-${randomUUID()}`;
  try {
    // fetchTopicOffsets retries an unknown topic for about 20 s: ask the topic list first.
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    const offsets = await admin.fetchTopicOffsets(topic);
    const ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    // A partition whose records all left by retention starts at its end: nothing to wait for.
    const pending = new Set(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition));
    if (pending.size === 0) return ends;
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
      ...(opts.maxWaitTimeInMs !== undefined ? { maxWaitTimeInMs: opts.maxWaitTimeInMs } : {}),
    });
    await consumer.connect();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = opts.timeoutMs ?? 60_000;
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `reading ${opts.what ?? `topic '${topic}'`}: partitions ${[...pending].join(',')} not read to the end ` +
                  `within ${timeoutMs} ms; is the broker up?`,
              ),
            ),
          timeoutMs,
        );
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
          if (BigInt(e.payload.lastOffset) + 1n >= (ends.get(e.payload.partition) ?? 0n)) {
            pending.delete(e.payload.partition);
            if (pending.size === 0) resolve();
          }
        });
        consumer
          .subscribe({ topic, fromBeginning: true })
          .then(() =>
            consumer.run({
              autoCommit: false,
              eachBatch: ({ batch }) => {
                const end = ends.get(batch.partition) ?? 0n;
                const below = batch.messages.filter((m) => BigInt(m.offset) < end);
                if (below.length > 0) onBatch(batch.partition, below);
                return Promise.resolve();
              },
            }),
          )
          .catch(reject);
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => undefined);
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/** Per-partition committed offsets of a consumer group (-1 when none). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((result?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

/** Lag per partition of a group on a topic: end offset minus committed offset (everything when nothing is committed). */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  // On a topic that does not exist yet both requests retry for about 20 s (kafkajs treats an unknown
  // topic as retriable): ask the broker's topic list first. A caller that disconnected during such a
  // retry kept its process alive (`ticklake status` on a fresh stack never exited).
  if (!(await admin.listTopics()).includes(topic)) {
    throw new Error(`topic '${topic}' does not exist yet (nothing has been replayed into it)`);
  }
  const [ends, committed] = await Promise.all([endOffsets(admin, topic), committedOffsets(admin, groupId, topic)]);
  const lag = new Map<number, bigint>();
  for (const [partition, end] of ends) {
    const c = committed.get(partition) ?? -1n;
    lag.set(partition, c < 0n ? end : end - c > 0n ? end - c : 0n);
  }
  return lag;
}

/**
 * The per-Kafka-partition writer of the S3 sink: buffers records, cuts them into flushes and writes
 * each flush exactly once.
 *
 * Exactly-once with a wall-clock freshness bound works like this. A flush covers the records of one
 * Kafka partition with offsets in [first, end). Before any data object is written, the flush's cut
 * is recorded in a manifest object whose key is derived from (group, topic, partition, first) and
 * which is written with If-None-Match: *. Data object keys are derived from (topic, partition, first)
 * and the lake partition, so the content of every object follows from the manifest and the log.
 * A retry or a zombie that reaches the same first offset finds the manifest already there, adopts
 * its cut (and the layout settings it records) instead of its own, and rewrites identical objects.
 * Kafka offsets are committed only after the objects are durable; a crash between the two replays
 * the same cut. docs/architecture.md ("S3 sink") gives the argument in full.
 *
 * A writer lives for one consumer-group generation: after a rebalance the sink makes new writers,
 * because kafkajs fetches again from the committed offsets.
 */
import { randomUUID } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import type { Compression } from '../lake-layout';
import { dataObjectKey, deadLetterKey, manifestKey, partitionPath, partitionValues } from '../lake-layout';
import { encodeLines } from './format';
import { checkRecord } from './record-check';
import { cutCount, type RotationLimits } from './rotation';

/** What the writer needs from the object store. */
export interface SinkStorage {
  /** Writes only if no object exists under the key (If-None-Match: *); false when one does. */
  putIfAbsent(key: string, body: string): Promise<boolean>;
  getJson<T>(key: string): Promise<T | undefined>;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** Keys under a prefix after `startAfter`, in key order (used to account for a dead attempt's flushes). */
  list?(prefix: string, startAfter: string): Promise<string[]>;
  /** Removes an object (a missing one is not an error); used only to undo a flush whose fence failed. */
  delete?(key: string): Promise<void>;
}

/** The settings that decide which objects a cut becomes; a manifest records them. */
export interface ManifestLayout {
  table: string;
  partitionBy: string[];
  /** Buckets of the `symbol_bucket` column; absent in manifests of layouts without it. */
  symbolBuckets?: number;
  compression: Compression;
  maxMessageBytes: number;
}

export interface WriterOptions extends ManifestLayout, Pick<RotationLimits, 'maxRecords' | 'maxBytes'> {
  topic: string;
  partition: number;
  groupId: string;
  prefix: string;
  /** Who writes (one sink activity, the same across its attempts); recorded in manifests. */
  writer?: string;
}

export interface FlushManifest {
  topic: string;
  partition: number;
  /** First offset of the cut (a record's offset). */
  first: string;
  /** Offset after the last record of the cut. */
  end: string;
  /** Records in [first, end), data and dead letters together. */
  records: number;
  files: { key: string; partition: string; records: number }[];
  deadLetters?: { key: string; records: number };
  /** Bytes of the objects as the creator encoded them (data and dead letters). */
  bytes?: number;
  /** Absent in manifests of older versions, which used the adopter's own settings. */
  layout?: ManifestLayout;
  writer?: string;
  /**
   * Random, one per manifest created: tells a writer reading the manifest back whether it is still the
   * one it created (absent in manifests of older versions).
   */
  token?: string;
  writtenAt: string;
}

export interface FlushResult {
  manifest: FlushManifest;
  /** The cut came from an existing manifest (a retry, a zombie or a rebalance wrote it first). */
  adopted: boolean;
  /** Bytes written (compressed data objects and dead letters). */
  bytes: number;
  /** Records that went to data objects. */
  records: number;
  deadLetters: number;
  /** Objects written (data and dead letters). */
  files: number;
  /** Lake partitions (e.g. `symbol=HSI/year=1987`) this flush wrote to. */
  lakePartitions: string[];
  /** Receive time (ms) of the oldest record of the flush. */
  oldestReceivedAt: number;
  /**
   * Set when the store's fence failed: another writer's create of this cut's manifest also succeeded
   * and replaced this writer's, so this writer undid its objects and wrote the recorded cut instead.
   */
  fenceFailure?: string;
}

/** One line of a dead-letter object: the raw message and why it could not go to the lake. */
export interface DeadLetterRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  reason: string;
  key_base64: string | null;
  value_base64: string | null;
  value_bytes: number;
  headers: Record<string, string>;
}

/** The same cut: the manifest a writer created (or adopted) is the one the store holds. */
function sameManifest(a: FlushManifest, b: FlushManifest): boolean {
  if (a.token !== undefined || b.token !== undefined) return a.token === b.token;
  const keys = (m: FlushManifest) => [...m.files.map((f) => f.key), m.deadLetters?.key ?? ''].join('|');
  return a.first === b.first && a.end === b.end && a.records === b.records && keys(a) === keys(b);
}

/** A manifest found under a key that does not describe a cut starting there; never adopted. */
export class ManifestMismatchError extends Error {
  override name = 'ManifestMismatchError';
}

/** A message as kafkajs delivers it; the writer keeps a record's offset and value (see addBatch). */
export interface SinkMessage {
  /** Decimal string, as in kafkajs. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: IHeaders;
}

interface PlannedObject {
  key: string;
  values: Buffer[];
  compression: Compression;
}

/**
 * Object writes in flight per flush. A flush can touch a hundred lake partitions; unbounded, four
 * partitions' flushes fill the S3 client's socket pool (50) and every manifest write, which is on the
 * critical path of the next flush, queues behind them.
 */
const PUT_CONCURRENCY = 8;
/**
 * Objects of a cut compressed at once. libuv's thread pool compresses four at a time (its default
 * size); more in flight only hold their uncompressed copies and zlib states (about 280 KB each at
 * gzip level 1) while they wait: unbounded, the cuts of one drain held 187 zlib states (53 MB) at once.
 */
const ENCODE_CONCURRENCY = 4;

async function eachLimit(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[name] = (Array.isArray(v) ? v : [v]).map((x) => x.toString()).join(',');
  }
  return out;
}

const MAX_CACHED_PATHS = 100_000;

/**
 * A buffered record keeps its offset and value only: kafkajs's message (key, headers and their
 * buffers) holds about 2.5 times the memory of the value's alone, and a full buffer holds hundreds of
 * thousands of records. A message that is not a record is kept whole for its dead letter; so is a
 * record above this size, which a cut written under a smaller message limit (another sink's manifest,
 * adopted) would make a dead letter.
 */
const SLIM_MAX_BYTES = 1024;
const SLIM = Symbol('slim');

function slim(m: SinkMessage): SinkMessage {
  return { offset: m.offset, key: null, value: m.value, timestamp: m.timestamp, [SLIM]: true } as SinkMessage;
}

function isSlim(m: SinkMessage): boolean {
  return (m as SinkMessage & { [SLIM]?: true })[SLIM] === true;
}

/** Lake partition paths by the raw values they depend on: escaping runs once per distinct path. */
class PathCache {
  private readonly paths = new Map<string, string>();
  private readonly bySymbol: boolean;
  private readonly dateChars: number;

  constructor(
    private readonly partitionBy: readonly string[],
    private readonly symbolBuckets: number | undefined,
  ) {
    this.bySymbol = partitionBy.includes('symbol') || partitionBy.includes('symbol_bucket');
    this.dateChars = partitionBy.includes('trade_date')
      ? 10
      : partitionBy.includes('month')
        ? 7
        : partitionBy.includes('year')
          ? 4
          : 0;
  }

  get(record: { symbol: string; trade_date: string }): string {
    const key = `${this.bySymbol ? record.symbol : ''}\u0000${record.trade_date.slice(0, this.dateChars)}`;
    let path = this.paths.get(key);
    if (path === undefined) {
      path = partitionPath(this.partitionBy, partitionValues(record, this.partitionBy, this.symbolBuckets));
      // A long-running writer's cache stays bounded (symbols × years grows slowly, but without end).
      if (this.paths.size >= MAX_CACHED_PATHS) this.paths.clear();
      this.paths.set(key, path);
    }
    return path;
  }
}

export class PartitionWriter {
  private messages: SinkMessage[] = [];
  /** Receive time (ms) of each buffered message, parallel to `messages`. */
  private received: number[] = [];
  /**
   * Lake partition path of each buffered message under this writer's own layout, parallel to
   * `messages`; undefined for a message that is not a valid record (a dead letter). Each record is
   * checked once, when it is buffered: the flush reuses the path unless it writes another layout.
   */
  private paths: (string | undefined)[] = [];
  private readonly pathCache: PathCache;
  /** Every lake partition this writer has buffered a record for. */
  private readonly pathsSeen = new Set<string>();
  private bytes = 0;
  /** A cut imposed by an existing manifest that this writer must reproduce. */
  private adopted: FlushManifest | undefined;
  private flushing = false;

  constructor(
    private readonly opts: WriterOptions,
    private readonly storage: SinkStorage,
  ) {
    this.pathCache = new PathCache(opts.partitionBy, opts.symbolBuckets);
  }

  get size(): number {
    return this.messages.length;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Receive time (ms) of the oldest buffered record, or undefined when empty. */
  get oldestReceivedAt(): number | undefined {
    return this.received[0];
  }

  /** Offset after the last buffered record, or undefined when empty. */
  get bufferedEnd(): bigint | undefined {
    const last = this.messages[this.messages.length - 1];
    return last && BigInt(last.offset) + 1n;
  }

  /**
   * Buffers a batch of one partition, in log order. Messages at offsets already buffered (a batch
   * delivered again after an error) are skipped; the log must not skip records (control records may
   * be missing, they are not records). Returns the lake partitions the batch holds records for that
   * this writer had never buffered before (the catalog can be told of them before they are written).
   */
  addBatch(batch: readonly SinkMessage[], receivedAt: number): string[] {
    const fresh: string[] = [];
    if (batch.length === 0) return fresh;
    const end = this.bufferedEnd;
    let from = 0;
    if (end !== undefined && BigInt(batch[0].offset) < end) {
      while (from < batch.length && BigInt(batch[from].offset) < end) from++;
    }
    const maxBytes = this.opts.maxMessageBytes;
    for (let i = from; i < batch.length; i++) {
      const m = batch[i];
      const check = checkRecord(m.value, maxBytes);
      const path = check.ok ? this.pathCache.get(check) : undefined;
      if (path !== undefined && !this.pathsSeen.has(path)) {
        this.pathsSeen.add(path);
        fresh.push(path);
      }
      this.messages.push(path !== undefined && m.value!.length <= SLIM_MAX_BYTES ? slim(m) : m);
      this.received.push(receivedAt);
      this.paths.push(path);
      this.bytes += m.value?.length ?? 0;
    }
    return fresh;
  }

  /** True while an adopted cut needs records that are not buffered yet (then the buffer must grow). */
  get awaitingCut(): boolean {
    return this.adopted !== undefined && BigInt(this.adopted.end) > (this.bufferedEnd ?? 0n);
  }

  /** True when a size rule says the buffer may not grow: then the sink stops fetching. */
  full(): boolean {
    if (this.awaitingCut) return false;
    return this.messages.length >= this.opts.maxRecords || this.bytes >= this.opts.maxBytes;
  }

  /**
   * Writes one cut of the buffered records: the oldest records up to the size limits, or the cut of an
   * existing manifest. Returns undefined when there is nothing to write yet (empty, or an adopted cut
   * that needs records not fetched yet). Not reentrant: the sink runs one flush per writer at a time.
   */
  async flush(): Promise<FlushResult | undefined> {
    if (this.flushing) throw new Error(`partition ${this.opts.partition}: flush() called while a flush is running`);
    this.flushing = true;
    try {
      return await this.flushOnce();
    } finally {
      this.flushing = false;
    }
  }

  private layout(): ManifestLayout {
    const o = this.opts;
    return {
      table: o.table,
      partitionBy: [...o.partitionBy],
      ...(o.partitionBy.includes('symbol_bucket') ? { symbolBuckets: o.symbolBuckets } : {}),
      compression: o.compression,
      maxMessageBytes: o.maxMessageBytes,
    };
  }

  /** The manifest at `mKey` if it describes a cut from `first`; throws ManifestMismatchError otherwise. */
  private checkedManifest(mKey: string, existing: FlushManifest, first: bigint): FlushManifest {
    if (existing.first !== first.toString() || !(BigInt(existing.end) > first)) {
      throw new ManifestMismatchError(
        `manifest ${mKey} describes [${existing.first}, ${existing.end}), not a cut from ${first}; ` +
          'the lake prefix holds manifests of another sink: give each sink its own LAKE_PREFIX or SINK_GROUP_ID',
      );
    }
    return existing;
  }

  private async flushOnce(): Promise<FlushResult | undefined> {
    const o = this.opts;
    let fenceFailure: string | undefined;
    // Steps: create or adopt the cut; adopt it after a failed create; adopt it again if the store's
    // fence failed (below) while this writer wrote.
    for (let step = 0; step < 4; step++) {
      const messages = this.messages;
      if (messages.length === 0) return undefined;
      const first = BigInt(messages[0].offset);
      if (this.adopted && BigInt(this.adopted.first) !== first) this.adopted = undefined;
      const adopted = this.adopted;
      let count: number;
      let end: bigint;
      if (adopted) {
        end = BigInt(adopted.end);
        if (end > this.bufferedEnd!) return undefined;
        count = 0;
        while (count < messages.length && BigInt(messages[count].offset) < end) count++;
      } else {
        count = cutCount(messages.length, (i) => messages[i].value?.length ?? 0, o);
        end = BigInt(messages[count - 1].offset) + 1n;
      }
      const batch = messages.slice(0, count);
      let oldestReceivedAt = Number.POSITIVE_INFINITY;
      for (let i = 0; i < count; i++) oldestReceivedAt = Math.min(oldestReceivedAt, this.received[i]);
      const layout = adopted ? (adopted.layout ?? this.layout()) : this.layout();
      const plan = this.plan(batch, first, end, layout, this.ownLayout(layout) ? this.paths : undefined);
      // Encoded before the manifest is written, so that the manifest can say how big its objects are.
      const bodies: Buffer[] = new Array<Buffer>(plan.objects.length);
      await eachLimit(plan.objects.length, ENCODE_CONCURRENCY, async (i) => {
        bodies[i] = await encodeLines(plan.objects[i].values, plan.objects[i].compression);
      });
      plan.manifest.bytes = bodies.reduce((n, b) => n + b.length, 0);

      const mKey = manifestKey(o.prefix, o.groupId, o.topic, o.partition, first.toString());
      if (!adopted) {
        plan.manifest.token = randomUUID();
        // Read before the conditional create. On S3 the create alone is the fence; on a store whose
        // If-None-Match is not atomic or is ignored, a zombie's create would replace a manifest written
        // long before (and the cut other writers follow). Reading first makes the zombie adopt it.
        let existing = await this.storage.getJson<FlushManifest>(mKey);
        if (!existing && !(await this.storage.putIfAbsent(mKey, JSON.stringify(plan.manifest)))) {
          existing = await this.storage.getJson<FlushManifest>(mKey);
          if (!existing) throw new Error(`manifest ${mKey} exists but could not be read; the flush will be retried`);
        }
        if (existing) {
          this.adopted = this.checkedManifest(mKey, existing, first);
          continue;
        }
      } else {
        const want = [...adopted.files.map((f) => f.key), adopted.deadLetters?.key].filter(Boolean).sort().join('|');
        const have = [...plan.manifest.files.map((f) => f.key), plan.manifest.deadLetters?.key]
          .filter(Boolean)
          .sort()
          .join('|');
        if (want !== have || adopted.records !== batch.length) {
          throw new ManifestMismatchError(
            `manifest of partition ${o.partition} at ${adopted.first} lists ${adopted.records} records in ` +
              `${adopted.files.length} objects, but offsets [${adopted.first}, ${adopted.end}) of the log give ` +
              `${batch.length} records in ${plan.manifest.files.length}; the topic was recreated or the lake prefix ` +
              'is shared with another sink: give this sink its own LAKE_PREFIX or SINK_GROUP_ID',
          );
        }
      }

      await eachLimit(plan.objects.length, PUT_CONCURRENCY, (i) =>
        this.storage.put(plan.objects[i].key, bodies[i], 'application/x-ndjson'),
      );
      // The cut is committed only if the store still holds its manifest. Another writer whose create
      // also succeeded (both racing the read above, on a store whose fence failed) may have replaced
      // it: then the objects just written may not be what the recorded cut says. Undo them and write
      // the recorded cut instead, as an adopter would have.
      const mine = adopted ?? plan.manifest;
      const stored = await this.storage.getJson<FlushManifest>(mKey);
      if (!stored) throw new Error(`manifest ${mKey} disappeared after it was written; the flush will be retried`);
      if (!sameManifest(stored, mine)) {
        const recorded = this.checkedManifest(mKey, stored, first);
        const keep = new Set([...recorded.files.map((f) => f.key), recorded.deadLetters?.key]);
        const stray = plan.objects.map((obj) => obj.key).filter((k) => !keep.has(k));
        if (stray.length > 0 && !this.storage.delete) {
          throw new ManifestMismatchError(
            `manifest ${mKey} was replaced while this sink wrote its cut (the object store let two conditional creates succeed), and this store cannot delete`,
          );
        }
        for (const k of stray) await this.storage.delete!(k);
        fenceFailure =
          `the object store accepted two creates of manifest ${mKey} (its If-None-Match is not atomic): ` +
          `this writer's cut [${first}, ${end}) was replaced by [${recorded.first}, ${recorded.end}); ` +
          `removed ${stray.length} of its objects and rewriting the recorded cut`;
        this.adopted = recorded;
        continue;
      }
      this.messages.splice(0, count);
      this.received.splice(0, count);
      this.paths.splice(0, count);
      for (const m of batch) this.bytes -= m.value?.length ?? 0;
      this.adopted = undefined;
      const manifest = adopted ?? plan.manifest;
      return {
        manifest,
        adopted: adopted !== undefined,
        bytes: plan.manifest.bytes,
        records: manifest.files.reduce((n, f) => n + f.records, 0),
        deadLetters: manifest.deadLetters?.records ?? 0,
        files: plan.objects.length,
        lakePartitions: manifest.files.map((f) => f.partition),
        oldestReceivedAt,
        ...(fenceFailure ? { fenceFailure } : {}),
      };
    }
    throw new Error(`partition ${o.partition}: could not settle the cut at ${this.messages[0]?.offset}; retrying`);
  }

  /** Whether `layout` places and checks records as this writer's own does (then buffered paths hold). */
  private ownLayout(layout: ManifestLayout): boolean {
    const o = this.opts;
    return (
      layout.maxMessageBytes === o.maxMessageBytes &&
      layout.partitionBy.join('/') === o.partitionBy.join('/') &&
      (!layout.partitionBy.includes('symbol_bucket') || layout.symbolBuckets === o.symbolBuckets)
    );
  }

  /**
   * The objects and manifest of a cut. `known` holds the partition path of each buffered message (from
   * the first buffered one) when `layout` is the writer's own; otherwise every record is checked here.
   */
  private plan(
    batch: SinkMessage[],
    first: bigint,
    end: bigint,
    layout: ManifestLayout,
    known: readonly (string | undefined)[] | undefined,
  ) {
    const o = this.opts;
    const byPath = new Map<string, Buffer[]>();
    const dead: Buffer[] = [];
    const paths = known ? undefined : new PathCache(layout.partitionBy, layout.symbolBuckets);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      let path = known?.[i];
      if (path === undefined) {
        const check = checkRecord(r.value, layout.maxMessageBytes);
        if (check.ok) path = (paths ?? this.pathCache).get(check);
        else if (isSlim(r)) {
          // Only a manifest whose message limit is below SLIM_MAX_BYTES can get here.
          throw new ManifestMismatchError(
            `manifest of partition ${o.partition} at ${first} was written with a message limit of ` +
              `${layout.maxMessageBytes} bytes, under which the record at offset ${r.offset} is a dead letter; ` +
              `this sink did not keep that record's key and headers: start the sink with maxMessageBytes ` +
              `${layout.maxMessageBytes} (the manifest's) to rewrite the cut as it was written`,
          );
        } else {
          const letter: DeadLetterRecord = {
            topic: o.topic,
            partition: o.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            reason: check.reason,
            key_base64: r.key?.toString('base64') ?? null,
            value_base64: r.value?.toString('base64') ?? null,
            value_bytes: r.value?.length ?? 0,
            headers: headerText(r.headers),
          };
          dead.push(Buffer.from(JSON.stringify(letter)));
          continue;
        }
      }
      let values = byPath.get(path);
      if (!values) byPath.set(path, (values = []));
      values.push(r.value!);
    }
    const firstStr = first.toString();
    const objects: PlannedObject[] = [];
    const files: FlushManifest['files'] = [];
    for (const [path, values] of [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const key = dataObjectKey({
        prefix: o.prefix,
        table: layout.table,
        partitionPath: path,
        topic: o.topic,
        partition: o.partition,
        firstOffset: firstStr,
        compression: layout.compression,
      });
      objects.push({ key, values, compression: layout.compression });
      files.push({ key, partition: path, records: values.length });
    }
    let deadLetters: FlushManifest['deadLetters'];
    if (dead.length > 0) {
      const key = deadLetterKey(o.prefix, o.topic, o.partition, firstStr);
      objects.push({ key, values: dead, compression: 'gzip' });
      deadLetters = { key, records: dead.length };
    }
    const manifest: FlushManifest = {
      topic: o.topic,
      partition: o.partition,
      first: firstStr,
      end: end.toString(),
      records: batch.length,
      files,
      deadLetters,
      layout,
      writer: o.writer,
      writtenAt: new Date().toISOString(),
    };
    return { manifest, objects };
  }
}

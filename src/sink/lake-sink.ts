/**
 * The S3 sink's consumer: one member of a Kafka consumer group that writes the partitions assigned
 * to it into the lake, exactly once, within a freshness bound, in bounded memory.
 *
 * - Each assigned Kafka partition has a {@link PartitionWriter} (buffer, cuts, manifests, objects).
 * - A ticker flushes a partition when a rotation rule says so (records, bytes, batch, drained, age); offsets are
 *   committed after the flush's objects are durable. When a partition holds nothing, its fetch
 *   position (which is past transaction markers) is committed, so the lag can reach zero.
 * - Backpressure: eachBatch does not return while its partition is full or the sink holds more than
 *   its memory budget; kafkajs fetches again only when every batch of the last fetch has returned.
 * - Rebalances: kafkajs fetches again from the committed offsets after every join, so a join drops
 *   every buffer (new writers); a flush still running from the previous generation finishes its
 *   objects (they are the manifest's, so harmless) but does not commit.
 *
 * Independent of Temporal: the activity (activities/sink.ts) adds heartbeats, cancellation and progress.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { batchFetchedOffset } from '../adapters/kafka';
import { attemptMarkerKey, attemptMarkerPrefix, manifestKey, manifestPrefix, type Compression } from '../lake-layout';
import { PartitionNotifier } from './partition-notices';
import {
  ManifestMismatchError,
  PartitionWriter,
  type FlushManifest,
  type FlushResult,
  type SinkStorage,
} from './partition-writer';
import { fetchShowsBacklog, flushAfterMs, rotationDue, type RotationLimits } from './rotation';

export interface SinkSettings extends RotationLimits {
  topic: string;
  groupId: string;
  prefix: string;
  table: string;
  partitionBy: string[];
  /** Buckets of the `symbol_bucket` partition column, when partitionBy names it. */
  symbolBuckets?: number;
  compression: Compression;
  /** Messages larger than this go to the dead-letter prefix. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Record values held in memory across all partitions before fetching stops. Default `maxBytes`. */
  maxBufferedBytes?: number;
}

/** kafkajs consumer tuning; the defaults suit a 2-core host and ticks of ~250 bytes. */
export interface ConsumerTuning {
  /** Default 4. */
  partitionsConsumedConcurrently?: number;
  /** Bytes (as stored, i.e. compressed) per partition per fetch. Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Bytes per fetch response. Default 4 MiB. */
  maxBytes?: number;
  /** Longest a fetch waits for data, ms. Default 100. */
  maxWaitTimeInMs?: number;
  /** A member that sends no heartbeat for this long leaves the group, ms. Default 15,000. */
  sessionTimeout?: number;
}

export interface SinkLogger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface PartitionProgress {
  partition: number;
  /** Offset committed by this sink (or found committed when the partition was assigned); -1 unknown. */
  committed: string;
  /** Next offset to fetch; -1 before the first fetch. */
  position: string;
  highWatermark: string;
  /** highWatermark - committed. */
  lag: string;
  /** Records held in memory, not yet in a durable object. */
  buffered: number;
  /** End offset of the last flush this sink wrote (or adopted) for the partition; -1 none. */
  written: string;
}

export interface SinkCounters {
  /** Records written to data objects (each counted once, see `rewrittenRecords`). */
  records: number;
  deadLetters: number;
  /** Bytes of the objects written (compressed). */
  bytes: number;
  /** Objects written (data and dead letters). */
  files: number;
  flushes: number;
  /** Records written again under an existing manifest (after a crash or rebalance); not in `records`. */
  rewrittenRecords: number;
  lastFlushAt?: string;
  /** Age of the oldest record of the last flush when its objects became durable, ms. */
  lastFreshnessMs?: number;
  /** Largest such age seen by this run, ms. */
  maxFreshnessMs?: number;
}

export interface SinkProgress extends SinkCounters {
  partitions: PartitionProgress[];
  /**
   * End offset of the last flush this activity wrote (or adopted), for every partition it ever wrote,
   * assigned now or not: what a retry needs to tell counted flushes from uncounted ones.
   */
  writtenOffsets?: Record<string, string>;
  updatedAt: string;
}

/** What an attempt records before its first flush of a partition (see {@link attemptMarkerKey}). */
export interface AttemptMarker {
  writer: string;
  attempt: number;
  /** Partition → the offset its first flush in this attempt started from. */
  partitions: Record<string, string>;
}

export interface LakeSinkOptions {
  kafka: Kafka;
  storage: SinkStorage;
  settings: SinkSettings;
  log: SinkLogger;
  /**
   * Identity recorded in manifests: one activity execution, the same across its attempts (workflow id,
   * run id, activity id). Tells a dead predecessor's unreported flushes from everyone else's.
   */
  writerId?: string;
  /** This attempt of the activity (1 for the first); names its attempt marker. Default 1. */
  attempt?: number;
  /** Counters and per-partition written offsets of an earlier attempt (from its last heartbeat). */
  resume?: SinkProgress;
  /** Announces lake partitions written to for the first time by this run. */
  notifier?: PartitionNotifier;
  /** Announces lake partitions this run buffers a record for, before any is written. */
  earlyNotifier?: PartitionNotifier;
  /** Called after every flush whose objects are durable (benchmarks measure freshness with it). */
  onFlush?: (result: FlushResult, completedAt: number) => void;
  /** Called when the consumer has joined the group, with its partitions (benchmarks time drains from here). */
  onJoin?: (partitions: number[], at: number) => void;
  /** Called when the broker has accepted an offset commit (benchmarks see the lag reach zero here). */
  onCommit?: (partition: number, offset: bigint, at: number) => void;
  consumer?: ConsumerTuning;
  /** Period of the rotation check, ms. Default 50. */
  tickMs?: number;
}

/** The sink cannot go on: the consumer crashed for good, or the lake holds an incompatible manifest. */
export class SinkFailure extends Error {
  override name = 'SinkFailure';
  constructor(
    message: string,
    readonly type: 'SinkConsumerCrashed' | 'SinkLayoutConflict',
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

interface PartitionState {
  partition: number;
  writer: PartitionWriter;
  committed: bigint;
  position: bigint;
  highWatermark: bigint;
  /** Fetches since the last catch-up showed a backlog (more behind them, or many records at once). */
  backlog: boolean;
  /** Read to the end of a backlog since the last flush started: flush the rest now (rotation rule `drained`). */
  drained: boolean;
  flushing: Promise<void> | undefined;
  failures: number;
  retryAt: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

export class LakeSink {
  private readonly settings: Required<Pick<SinkSettings, 'maxMessageBytes' | 'maxBufferedBytes'>> & SinkSettings;
  private readonly consumer: Consumer;
  private admin: Admin | undefined;
  private states = new Map<number, PartitionState>();
  /** End of the last flush accounted per partition; survives rebalances, resumed from heartbeats. */
  private readonly written = new Map<number, bigint>();
  /** Partitions this attempt started flushing, from which offset; and those its marker holds durably. */
  private readonly marked = new Map<number, bigint>();
  private readonly markedDurable = new Set<number>();
  private markerWrites: Promise<void> = Promise.resolve();
  private readonly counters: SinkCounters;
  /** Lake partitions this sink has written an object to. */
  private readonly seenPartitions = new Set<string>();
  private readonly tickMs: number;
  private expectedWriteMs = 50;
  private stopping = false;
  private ticker: NodeJS.Timeout | undefined;
  private watermarkTimer: NodeJS.Timeout | undefined;
  private lastWarnAt = 0;
  private failWith!: (err: SinkFailure) => void;
  private stop!: () => void;
  /** Resolves when a drain or close begins. */
  private readonly stopped = new Promise<void>((resolve) => (this.stop = resolve));
  /** Rejects when the sink cannot go on; never resolves. */
  readonly failed: Promise<never>;

  constructor(private readonly opts: LakeSinkOptions) {
    const s = opts.settings;
    this.settings = {
      ...s,
      maxMessageBytes: s.maxMessageBytes ?? 1024 * 1024,
      maxBufferedBytes: s.maxBufferedBytes ?? s.maxBytes,
    };
    this.tickMs = opts.tickMs ?? 50;
    const r = opts.resume;
    this.counters = {
      records: r?.records ?? 0,
      deadLetters: r?.deadLetters ?? 0,
      bytes: r?.bytes ?? 0,
      files: r?.files ?? 0,
      flushes: r?.flushes ?? 0,
      rewrittenRecords: r?.rewrittenRecords ?? 0,
      lastFlushAt: r?.lastFlushAt,
    };
    for (const p of r?.partitions ?? []) if (BigInt(p.written) >= 0n) this.written.set(p.partition, BigInt(p.written));
    for (const [p, end] of Object.entries(r?.writtenOffsets ?? {})) {
      if (BigInt(end) > (this.written.get(Number(p)) ?? -1n)) this.written.set(Number(p), BigInt(end));
    }
    this.failed = new Promise<never>((_, reject) => (this.failWith = reject));
    this.failed.catch(() => undefined);
    const t = opts.consumer ?? {};
    this.consumer = opts.kafka.consumer({
      groupId: s.groupId,
      readUncommitted: false,
      sessionTimeout: t.sessionTimeout ?? 15_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: t.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: t.maxBytes ?? 4 * 1024 * 1024,
      maxWaitTimeInMs: t.maxWaitTimeInMs ?? 100,
      allowAutoTopicCreation: false,
    });
  }

  /** Joins the group and starts consuming; returns once the consumer runs. */
  async start(): Promise<void> {
    const { topic } = this.settings;
    const c = this.consumer;
    c.on(c.events.GROUP_JOIN, (e) => {
      // kafkajs fetches again from the committed offsets after a join: start every partition afresh.
      const assigned = e.payload.memberAssignment[topic] ?? [];
      this.states = new Map(assigned.map((p) => [p, this.newState(p)]));
      this.opts.log.info('sink joined group', { groupId: this.settings.groupId, topic, partitions: assigned });
      this.opts.onJoin?.(assigned, Date.now());
      void this.refreshWatermarks(true);
    });
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      // A batch of transaction markers (or aborted records) only never reaches eachBatch; it moves the position.
      const s = this.states.get(e.payload.partition);
      if (!s || e.payload.batchSize !== 0 || e.payload.topic !== topic) return;
      s.position = max(s.position, BigInt(e.payload.lastOffset) + 1n);
      s.highWatermark = max(s.highWatermark, BigInt(e.payload.highWatermark));
      this.noteFetch(s, 0);
    });
    c.on(c.events.CRASH, (e) => {
      if (e.payload.restart) {
        this.opts.log.warn('sink consumer crashed; kafkajs restarts it', { error: String(e.payload.error) });
        return;
      }
      this.failWith(
        new SinkFailure(
          `the sink's Kafka consumer stopped: ${String(e.payload.error)}`,
          'SinkConsumerCrashed',
          e.payload.error,
        ),
      );
    });
    await this.reconcile();
    this.admin = this.opts.kafka.admin();
    await this.admin.connect();
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.consumer?.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.watermarkTimer = setInterval(() => void this.refreshWatermarks(false), 2_000);
  }

  /**
   * A retried attempt counts the flushes its dead predecessors wrote after the last heartbeat: the
   * manifests of this activity beyond the written offsets that heartbeat knew. Without this, flushes
   * that were written and committed but not yet reported would never be counted.
   *
   * Where to list from, per partition: after the heartbeat's written offset when it knew one (it
   * knows one for every partition the activity ever wrote, assigned then or not); otherwise from
   * where an attempt's marker says it started flushing the partition, or from the committed offset
   * the heartbeat saw (from the partition's start when it saw none: it was sent between the join and
   * the first fetch). A partition none of these names was not written by this activity.
   */
  private async reconcile(): Promise<void> {
    const { resume, writerId, storage } = this.opts;
    // A retry without heartbeat details: its predecessor died before its first heartbeat.
    if (!writerId || !storage.list || (!resume && (this.opts.attempt ?? 1) <= 1)) return;
    const { prefix, groupId, topic } = this.settings;
    const starts = await this.attemptStarts(writerId, storage.list.bind(storage));
    for (const p of resume?.partitions ?? []) {
      const committed = BigInt(p.committed);
      const from = committed >= 0n ? committed : 0n;
      starts.set(p.partition, min(from, starts.get(p.partition) ?? from));
    }
    for (const [partition, start] of [...starts].sort((a, b) => a[0] - b[0])) {
      const written = this.written.get(partition) ?? -1n;
      const from = written >= 0n ? written : start;
      const folder = manifestPrefix(prefix, groupId, topic, partition);
      const startAfter = from > 0n ? manifestKey(prefix, groupId, topic, partition, (from - 1n).toString()) : folder;
      for (const key of await storage.list(folder, startAfter)) {
        const m = await storage.getJson<FlushManifest>(key);
        if (!m || m.writer !== writerId || BigInt(m.end) <= (this.written.get(partition) ?? -1n)) continue;
        const c = this.counters;
        c.records += m.files.reduce((n, f) => n + f.records, 0);
        c.deadLetters += m.deadLetters?.records ?? 0;
        c.files += m.files.length + (m.deadLetters ? 1 : 0);
        c.bytes += m.bytes ?? 0;
        c.flushes++;
        this.written.set(partition, BigInt(m.end));
        this.opts.log.info('counted a flush of the previous attempt', { partition, first: m.first, end: m.end });
      }
    }
  }

  /** Per partition, the lowest offset an earlier attempt's marker says it started flushing from. */
  private async attemptStarts(
    writerId: string,
    list: (prefix: string, startAfter: string) => Promise<string[]>,
  ): Promise<Map<number, bigint>> {
    const starts = new Map<number, bigint>();
    const { prefix, groupId, topic } = this.settings;
    const folder = attemptMarkerPrefix(prefix, groupId, topic, writerId);
    for (const key of await list(folder, folder)) {
      const marker = await this.opts.storage.getJson<AttemptMarker>(key);
      for (const [p, offset] of Object.entries(marker?.partitions ?? {})) {
        const at = BigInt(offset);
        starts.set(Number(p), min(at, starts.get(Number(p)) ?? at));
      }
    }
    return starts;
  }

  /**
   * Records in this attempt's marker that it flushes `partition` from `from` on, before the flush's
   * objects are written. Once per partition and attempt; the marker lists every partition so far.
   */
  private async markAttempt(partition: number, from: bigint): Promise<void> {
    const { writerId, storage } = this.opts;
    if (!writerId || this.markedDurable.has(partition)) return;
    if (!this.marked.has(partition)) this.marked.set(partition, from);
    const attempt = this.opts.attempt ?? 1;
    const { prefix, groupId, topic } = this.settings;
    const write = this.markerWrites.then(async () => {
      if (this.markedDurable.has(partition)) return; // a write queued before this one took it along
      const holding = [...this.marked];
      const marker: AttemptMarker = {
        writer: writerId,
        attempt,
        partitions: Object.fromEntries(holding.map(([p, at]) => [String(p), at.toString()])),
      };
      await storage.put(
        attemptMarkerKey(prefix, groupId, topic, writerId, attempt),
        Buffer.from(JSON.stringify(marker)),
        'application/json',
      );
      for (const [p] of holding) this.markedDurable.add(p);
    });
    this.markerWrites = write.catch(() => undefined);
    await write;
  }

  status(): SinkProgress {
    return {
      ...this.counters,
      partitions: [...this.states.values()]
        .sort((a, b) => a.partition - b.partition)
        .map((s) => ({
          partition: s.partition,
          committed: s.committed.toString(),
          position: s.position.toString(),
          highWatermark: s.highWatermark.toString(),
          lag: (s.committed >= 0n && s.highWatermark > s.committed ? s.highWatermark - s.committed : 0n).toString(),
          buffered: s.writer.size,
          written: (this.written.get(s.partition) ?? -1n).toString(),
        })),
      writtenOffsets: Object.fromEntries([...this.written].map(([p, end]) => [String(p), end.toString()])),
      updatedAt: new Date().toISOString(),
    };
  }

  /** Records held in memory across partitions. */
  get bufferedRecords(): number {
    let n = 0;
    for (const s of this.states.values()) n += s.writer.size;
    return n;
  }

  /**
   * Pause: stops fetching, writes and commits what it holds, leaves the group. Records it cannot
   * write now (S3 down, or an adopted cut not fetched yet) stay uncommitted and are read again later.
   */
  async drain(): Promise<SinkProgress> {
    this.stopping = true;
    this.stop();
    this.stopTimers();
    try {
      this.consumer.pause([{ topic: this.settings.topic }]);
    } catch {
      // Not running (never joined): nothing to pause.
    }
    const started = Date.now();
    await Promise.all([...this.states.values()].map((s) => this.flush(s).then(() => this.flush(s))));
    const flushed = Date.now();
    const st = this.status();
    await this.disconnect();
    const left = Date.now();
    // Notices after leaving the group, and not waited for: they are not part of stopping to consume
    // (a lost one is caught up by the next notice or the scheduled crawl).
    void this.opts.notifier?.flush();
    this.opts.log.info('sink drained', {
      flushMs: flushed - started,
      leaveMs: left - flushed,
      noticeMs: Date.now() - left,
      records: st.records,
    });
    return st;
  }

  /** Leaves without writing what is held (after a failure); the next owner reads it again. */
  async close(): Promise<void> {
    this.stopping = true;
    this.stop();
    this.stopTimers();
    await this.disconnect();
  }

  private stopTimers(): void {
    clearInterval(this.ticker);
    clearInterval(this.watermarkTimer);
    this.opts.notifier?.close();
    this.opts.earlyNotifier?.close();
  }

  private async disconnect(): Promise<void> {
    await this.consumer
      .disconnect()
      .catch((err: unknown) => this.opts.log.warn('consumer disconnect failed', { error: String(err) }));
    await this.admin?.disconnect().catch(() => undefined);
  }

  private newState(partition: number): PartitionState {
    const s = this.settings;
    return {
      partition,
      writer: new PartitionWriter(
        {
          topic: s.topic,
          partition,
          groupId: s.groupId,
          prefix: s.prefix,
          table: s.table,
          partitionBy: s.partitionBy,
          symbolBuckets: s.symbolBuckets,
          compression: s.compression,
          maxRecords: s.maxRecords,
          maxBytes: s.maxBytes,
          maxMessageBytes: s.maxMessageBytes,
          writer: this.opts.writerId,
        },
        this.opts.storage,
      ),
      committed: -1n,
      position: -1n,
      highWatermark: 0n,
      backlog: false,
      drained: false,
      flushing: undefined,
      failures: 0,
      retryAt: 0,
    };
  }

  private bufferedBytes(): number {
    let n = 0;
    for (const s of this.states.values()) n += s.writer.bufferedBytes;
    return n;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.stopping || payload.isStale()) return;
    const s = this.states.get(batch.partition);
    if (!s) return; // not in the assignment we know: leave it unresolved, it is fetched again
    if (s.committed < 0n) {
      // The first fetch of a generation starts at the committed offset (or the log start).
      const fetched = batchFetchedOffset(batch);
      if (fetched !== null && fetched !== undefined) s.committed = BigInt(fetched);
    }
    // Partitions new to this writer are announced at once, before any of their records is written
    // (the notifier sends each partition once, whichever writer buffered it).
    const fresh = s.writer.addBatch(batch.messages, Date.now());
    this.opts.earlyNotifier?.add(fresh);
    s.position = max(s.position, BigInt(batch.lastOffset()) + 1n);
    s.highWatermark = max(s.highWatermark, BigInt(batch.highWatermark));
    this.noteFetch(s, batch.messages.length);
    payload.resolveOffset(batch.lastOffset());

    // Backpressure: while this partition is full or the sink over its budget, do not return (kafkajs
    // fetches again only when every batch of its last fetch has returned). A partition that must read
    // on to reach an adopted cut is exempt from the budget, or it could wait for itself.
    const blocked = () =>
      s.writer.full() || (!s.writer.awaitingCut && this.bufferedBytes() >= this.settings.maxBufferedBytes);
    let waited = 0;
    while (!this.stopping && payload.isRunning() && this.states.get(batch.partition) === s && blocked()) {
      const now = Date.now();
      // A stop (drain, close) does not wait for a slow flush here: the consumer must be able to leave.
      if (s.writer.full()) {
        if (now >= s.retryAt) await Promise.race([this.flush(s), this.stopped]);
      } else {
        const ready = [...this.states.values()].filter((x) => x.writer.size > 0 && now >= x.retryAt);
        await Promise.race([Promise.all(ready.map((x) => this.flush(x))), this.stopped]);
      }
      await payload.heartbeat();
      if (blocked()) {
        await sleep(Math.min(250, 20 + waited));
        waited += 20;
      }
    }
  }

  /** Marks the end of a backlog: the partition caught up after fetches that showed one. */
  private noteFetch(s: PartitionState, records: number): void {
    const behind = s.highWatermark > s.position;
    if (fetchShowsBacklog(records, behind, this.settings)) s.backlog = true;
    if (!behind && s.backlog) {
      s.backlog = false;
      s.drained = true;
    }
  }

  private tick(): void {
    const now = Date.now();
    const flushAfter = flushAfterMs(this.settings.flushMs, this.expectedWriteMs, this.tickMs);
    for (const s of this.states.values()) {
      if (s.flushing || now < s.retryAt) continue;
      const w = s.writer;
      const due = rotationDue(
        { records: w.size, bytes: w.bufferedBytes, oldestReceivedAt: w.oldestReceivedAt, drained: s.drained },
        this.settings,
        now,
        flushAfter,
      );
      if (due || (w.size === 0 && s.position > s.committed && s.committed >= 0n)) {
        s.drained = false;
        void this.flush(s);
      }
    }
  }

  /** Flushes a partition (one flush per partition at a time); failures keep the records and back off. */
  private flush(s: PartitionState): Promise<void> {
    s.flushing ??= this.runFlush(s).finally(() => (s.flushing = undefined));
    return s.flushing;
  }

  private async runFlush(s: PartitionState): Promise<void> {
    try {
      for (;;) {
        const started = Date.now();
        if (s.writer.size > 0) await this.markAttempt(s.partition, s.committed >= 0n ? s.committed : 0n);
        const result = await s.writer.flush();
        if (!result) break;
        if (result.fenceFailure) {
          // Not throttled: each one says the store's fence failed.
          this.opts.log.warn('the object store let two writers create one manifest; the recorded cut was rewritten', {
            topic: this.settings.topic,
            partition: s.partition,
            detail: result.fenceFailure,
          });
        }
        this.account(s.partition, result, started);
        if (this.states.get(s.partition) !== s) return; // a rebalance since: the new generation commits
        await this.commit(s, BigInt(result.manifest.end));
        const w = s.writer;
        const more = rotationDue(
          { records: w.size, bytes: w.bufferedBytes, oldestReceivedAt: w.oldestReceivedAt },
          this.settings,
          Date.now(),
          flushAfterMs(this.settings.flushMs, this.expectedWriteMs, this.tickMs),
        );
        if (!more && !(this.stopping && w.size > 0)) break;
      }
      if (this.states.get(s.partition) === s && s.writer.size === 0 && s.position > s.committed && s.committed >= 0n) {
        // Everything below the fetch position is durable: commit past transaction markers too.
        await this.commit(s, s.position);
      }
      s.failures = 0;
      s.retryAt = 0;
    } catch (err) {
      if (err instanceof ManifestMismatchError) {
        this.failWith(new SinkFailure(err.message, 'SinkLayoutConflict', err));
        return;
      }
      s.failures++;
      s.retryAt = Date.now() + Math.min(5_000, 100 * 2 ** Math.min(s.failures, 6));
      this.warn('flush failed; the records stay buffered and the flush is retried', {
        topic: this.settings.topic,
        partition: s.partition,
        failures: s.failures,
        buffered: s.writer.size,
        error: String(err),
      });
    }
  }

  private account(partition: number, r: FlushResult, started: number): void {
    const now = Date.now();
    const end = BigInt(r.manifest.end);
    const written = this.written.get(partition) ?? -1n;
    // Our own flush, or one our previous attempt wrote but did not report before it died.
    const ours =
      !r.adopted || (r.manifest.writer !== undefined && r.manifest.writer === this.opts.writerId && end > written);
    const c = this.counters;
    if (ours) {
      c.records += r.records;
      c.deadLetters += r.deadLetters;
      c.files += r.files;
      c.bytes += r.bytes;
      c.flushes++;
    } else {
      c.rewrittenRecords += r.records + r.deadLetters;
    }
    if (end > written) this.written.set(partition, end);
    c.lastFlushAt = new Date(now).toISOString();
    c.lastFreshnessMs = now - r.oldestReceivedAt;
    c.maxFreshnessMs = Math.max(c.maxFreshnessMs ?? 0, c.lastFreshnessMs);
    const took = now - started;
    // Rises at once, decays slowly: the age rule leaves room for the slow writes seen lately.
    this.expectedWriteMs = took > this.expectedWriteMs ? took : 0.9 * this.expectedWriteMs + 0.1 * took;
    const fresh = r.lakePartitions.filter((p) => !this.seenPartitions.has(p));
    if (fresh.length > 0) {
      for (const p of fresh) this.seenPartitions.add(p);
      // Announced when first buffered (that notice registers it if the table exists); now that it has
      // an object, announced as written (which also creates the table if there is none yet).
      this.opts.notifier?.add(fresh);
    }
    this.opts.log.debug('flushed', {
      partition,
      first: r.manifest.first,
      end: r.manifest.end,
      records: r.records,
      adopted: r.adopted,
      ms: took,
    });
    this.opts.onFlush?.(r, now);
  }

  private async commit(s: PartitionState, offset: bigint): Promise<void> {
    if (offset <= s.committed) return;
    try {
      await this.consumer.commitOffsets([
        { topic: this.settings.topic, partition: s.partition, offset: offset.toString() },
      ]);
      s.committed = max(s.committed, offset);
      this.opts.onCommit?.(s.partition, offset, Date.now());
    } catch (err) {
      // A rebalance took the partition (or the broker is away): the next owner reads from the last
      // commit, and the manifests make it write the same objects again.
      this.warn('offset commit failed; the records are durable and will be committed again or rewritten', {
        topic: this.settings.topic,
        partition: s.partition,
        offset: offset.toString(),
        error: String(err),
      });
    }
  }

  /** High watermarks for the lag, and committed offsets of partitions not fetched yet. */
  private async refreshWatermarks(committedToo: boolean): Promise<void> {
    const admin = this.admin;
    if (!admin || this.stopping) return;
    try {
      const { topic, groupId } = this.settings;
      const ends = await admin.fetchTopicOffsets(topic);
      for (const o of ends) {
        const s = this.states.get(o.partition);
        if (s) s.highWatermark = max(s.highWatermark, BigInt(o.high));
      }
      if (committedToo || [...this.states.values()].some((s) => s.committed < 0n)) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const p of offsets?.partitions ?? []) {
          const s = this.states.get(p.partition);
          if (s && s.committed < 0n && BigInt(p.offset) >= 0n) s.committed = BigInt(p.offset);
        }
      }
    } catch (err) {
      this.opts.log.debug('watermark refresh failed', { error: String(err) });
    }
  }

  /** Warnings at most once a second, so an outage does not flood the log. */
  private warn(message: string, meta: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.lastWarnAt < 1_000) return;
    this.lastWarnAt = now;
    this.opts.log.warn(message, meta);
  }
}

/**
 * The replay engine: streams a CSV into Kafka, exactly once, at a set speed and in a set order.
 * The produce activity runs it with Temporal's context; the benchmark runs it bare.
 *
 * Exactly once (docs/architecture.md, "Replay producer"): every Kafka transaction carries a batch of
 * ticks, the batch's dead letters and the replay's position after the batch (positions.ts). A new
 * attempt fences older producers of the replay before it reads the position (producer-pool.ts), so it
 * resumes exactly after the last committed batch, whatever happened to earlier attempts.
 *
 * Throughput: rows are read, validated and turned into messages while the previous batch's transaction
 * is in flight (one transaction at a time, two batches in memory at most). librdkafka batches,
 * compresses and sends a transaction's messages on its own threads (producer-pool.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { RejectedRow, ReplayProgress } from '../../activities/types';
import { SourceFileError, openSource, scanSource, type Cursor, type SourceFingerprint } from './csv-source';
import { OrderError, planRuns, type ReplayOrder, type RunPlan } from './ordered-rows';
import { DEAD_LETTER, TICK, chunkBytes, messageAt, restamp, rowBytes, stampOf, type PackedChunk } from './packed-chunk';
import { Pacer, type ReplaySpeed } from './pacing';
import { POSITION_VERSION, checkPosition, positionMessage, readPosition, type ReplayPosition } from './positions';
import { isFenced, type ProducerLease, type ProducerPool, type ReplayProducer } from './producer-pool';
import { ROWS_PER_CHUNK, openInlineFeed, startFeedThread, type RowFeed, type StartedFeedThread } from './row-feed';
import { openOrderedSource } from './ordered-source';
import { INVALID_SOURCE_FILE, type ReplayInputErrorType } from '../errors/replay';

export interface ReplayRequest {
  replayId: string;
  file: string;
  topic: string;
  dlqTopic: string;
  positionsTopic: string;
  speed: ReplaySpeed;
  /** Default 'file'. */
  order?: ReplayOrder;
  /** Start again from the top when the file ends (an endless feed). */
  loop: boolean;
  /** Rows per transaction at full speed. Default 20,000. */
  batchSize?: number;
  /** Default 'gzip'. */
  compression?: 'gzip' | 'none';
  /** Read, validate and build messages on a worker thread (default true); false does it inline. */
  feedThread?: boolean;
}

export interface ReplayHooks {
  /** Aborted when the replay must stop (pause, speed change, cancellation, worker shutdown). */
  signal: AbortSignal;
  /** Live progress, called after every commit and at least every PROGRESS_EVERY_MS; `final` on the last call. */
  progress(p: ReplayProgress, final: boolean): void;
  log: {
    info(message: string, meta?: Record<string, unknown>): void;
    warn(message: string, meta?: Record<string, unknown>): void;
  };
  /** Where the time went, called once when a pass ends (for benchmarks and logs). */
  stats?(s: PassStats): void;
}

/** Milliseconds a pass spent waiting, and on what. */
export interface PassStats {
  /** Waiting for the feed's next chunk (reading and parsing slower than producing). */
  feedWaitMs: number;
  /** Waiting for the previous transaction before the next could start (Kafka slower than reading). */
  commitWaitMs: number;
  /** Sleeping to keep the set speed. */
  paceWaitMs: number;
  transactions: number;
  wallMs: number;
}

export interface ReplayDeps {
  /** The process's kafkajs client: reads positions back. */
  kafka: Kafka;
  /** Transactional producers (librdkafka). */
  producers: ProducerPool;
}

/** A bad request: retrying cannot help. `type` is the ApplicationFailure type the workflow lists as non-retryable. */
export class ReplayInputError extends Error {
  override name = 'ReplayInputError';
  constructor(
    message: string,
    readonly type: ReplayInputErrorType,
  ) {
    super(message);
  }
}

/** The replay stopped because its signal was aborted; everything committed stays committed. */
export class ReplayStopped extends Error {
  override name = 'ReplayStopped';
  constructor(readonly progress: ReplayProgress) {
    super('replay stopped (paused, speed changed or cancelled); it resumes from its committed position');
  }
}

export const DEFAULT_BATCH_SIZE = 20_000;
/** Uncompressed bytes per transaction at full speed. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** A batch is committed at least this often (ms), however slowly rows come. */
export const MAX_BATCH_AGE_MS = 1000;
/** When pacing, rows wait at most about this long (ms) for their transaction. */
export const LINGER_MS = 100;
const PROGRESS_EVERY_MS = 500;
/** When paced, a row taken this long (ms) or more after its chunk was packed gets the time it is taken (restamp). */
const RESTAMP_AFTER_MS = 20;
/** Longest sleep between two looks at the stop signal. */
const SLEEP_SLICE_MS = 200;
/** How long a stopping replay waits for its in-flight transaction. */
const STOP_WAIT_MS = 5000;

/**
 * The rows of one transaction, as ranges of packed chunks. Kafka messages are made from them only while
 * the transaction sends, a request at a time: short-lived objects that never reach V8's old generation,
 * which keeps the process's memory flat.
 */
interface Batch {
  parts: { chunk: PackedChunk; from: number; to: number }[];
  bytes: number;
  rows: number;
  startedAt: number;
}

function newBatch(): Batch {
  return { parts: [], bytes: 0, rows: 0, startedAt: 0 };
}

function addRow(batch: Batch, chunk: PackedChunk, i: number): void {
  const last = batch.parts[batch.parts.length - 1];
  if (last && last.chunk === chunk && last.to === i) last.to = i + 1;
  else batch.parts.push({ chunk, from: i, to: i + 1 });
  batch.bytes += rowBytes(chunk, i) + 64;
  batch.rows++;
}

/** Rejected rows a progress report names (the last ones). */
export const LAST_REJECTED = 5;

function progressOf(
  p: ReplayPosition,
  extra: { rowsRead: number; rate: number; done: boolean; lastRejected?: RejectedRow[] },
): ReplayProgress {
  return {
    ...(extra.lastRejected && extra.lastRejected.length > 0 ? { lastRejected: [...extra.lastRejected] } : {}),
    rowsRead: extra.rowsRead,
    produced: p.produced,
    rejected: p.rejected,
    position: p.consumed,
    line: p.line,
    pass: p.pass,
    order: p.order,
    rate: extra.rate,
    done: extra.done,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Rows per feed chunk. A chunk's rows get their ingestion time when the chunk is packed, a few chunks
 * ahead of sending: at full speed big chunks are cheapest; when paced, a chunk holds about a tenth of
 * a second of rows, and a row taken more than RESTAMP_AFTER_MS after its chunk was packed (held back
 * until due: a trading day's first rows wait up to a second) is restamped with the time it is taken.
 */
export function chunkRows(speed: ReplaySpeed): number {
  const clamp = (rows: number) => Math.max(16, Math.min(ROWS_PER_CHUNK, Math.round(rows)));
  switch (speed.mode) {
    case 'max':
      return ROWS_PER_CHUNK;
    case 'rows':
      return clamp(speed.rowsPerSecond / 10);
    case 'days':
      // A trading day is one row per symbol: tens of rows for index files.
      return clamp(speed.tradingDaysPerSecond * 2);
  }
}

/** Runs a replay until the file is done (or, in loop mode, until stopped). */
export async function runReplay(deps: ReplayDeps, req: ReplayRequest, hooks: ReplayHooks): Promise<ReplayProgress> {
  const order = req.order ?? 'file';
  let fingerprint: SourceFingerprint;
  let runs: RunPlan[];
  try {
    fingerprint = await openSource(req.file);
    const layout = await scanSource(req.file);
    runs = planRuns(layout, order);
  } catch (err) {
    if (err instanceof SourceFileError || err instanceof OrderError) {
      throw new ReplayInputError(err.message, INVALID_SOURCE_FILE);
    }
    throw err;
  }
  // Looping over a file without data rows would spin: it is replayed once.
  const loop = req.loop && runs.length > 0;
  if (hooks.signal.aborted) {
    throw new ReplayStopped(
      progressOf(initialPosition(order, fingerprint, runs), { rowsRead: 0, rate: 0, done: false }),
    );
  }

  // The feed thread loads while the producer is fenced and the position read.
  const spare = req.feedThread === false ? undefined : startFeedThread();
  let lease: ProducerLease | undefined;
  try {
    lease = await deps.producers.acquire(req.replayId, { compression: req.compression });
    // Read only after the fence above: no older attempt can commit past this position any more.
    const stored = await readPosition(deps.kafka, req.positionsTopic, req.replayId);
    let position: ReplayPosition;
    if (stored === undefined) position = initialPosition(order, fingerprint, runs);
    else {
      const check = checkPosition(stored, {
        replayId: req.replayId,
        file: req.file,
        fingerprint,
        order,
        runs: runs.length,
      });
      if (!check.ok) throw new ReplayInputError(check.message, check.type);
      position = check.position;
      if (check.locate) position.cursors = await locateCursors(req.file, runs, order, position.consumed);
    }
    hooks.log.info('replay resuming', {
      replayId: req.replayId,
      order,
      runs: runs.length,
      pass: position.pass,
      position: position.consumed,
      done: position.done,
    });
    const pass = new PassRunner(lease.producer, { ...req, loop }, hooks, runs, order, spare);
    for (;;) {
      if (position.done) {
        const p = progressOf(position, {
          rowsRead: position.produced + position.rejected,
          rate: 0,
          done: true,
          lastRejected: pass.lastRejected,
        });
        hooks.progress(p, true);
        return p;
      }
      position = await pass.run(position);
    }
  } finally {
    await spare?.close();
    await lease?.release();
  }
}

/** The cursors after the first `rows` rows of the ordered stream, found by reading them. */
async function locateCursors(file: string, runs: RunPlan[], order: ReplayOrder, rows: number): Promise<Cursor[]> {
  const source = await openOrderedSource(
    file,
    runs,
    order,
    runs.map((r) => r.start),
  );
  try {
    let left = rows;
    while (left > 0) {
      const got = await source.next(Math.min(left, 65_536));
      if (got === null) break;
      left -= got.length;
    }
    return source.cursors();
  } finally {
    await source.close();
  }
}

function initialPosition(order: ReplayOrder, fingerprint: SourceFingerprint, runs: RunPlan[]): ReplayPosition {
  return {
    version: POSITION_VERSION,
    order,
    pass: 0,
    consumed: 0,
    produced: 0,
    rejected: 0,
    line: 0,
    cursors: runs.map((r) => r.start),
    fingerprint,
    done: false,
    updatedAt: new Date().toISOString(),
  };
}

/** Where each run of the pass stands: the cursors a position records. */
class RunCursors {
  private readonly offsets: number[];
  private readonly lines: number[];
  private readonly keys: string[];

  constructor(from: Cursor[]) {
    this.offsets = from.map((c) => c.offset);
    this.lines = from.map((c) => c.line);
    this.keys = from.map((c) => c.key);
  }

  /** Row i of the chunk was consumed. */
  advance(c: PackedChunk, i: number, key: string): void {
    const run = c.runs[i];
    this.offsets[run] = c.ends[i];
    this.lines[run] = c.nextLines[i];
    this.keys[run] = key;
  }

  snapshot(): Cursor[] {
    return this.offsets.map((offset, i) => ({ offset, line: this.lines[i], key: this.keys[i] }));
  }
}

/** One pass over the file from a position, committing as it goes. */
class PassRunner {
  private readonly batchSize: number;
  private readonly pacer: Pacer;
  private pacedRows = 0;
  private pacedDays = -1;
  private pacedKey: string | undefined;
  private inflight: Promise<void> | undefined;
  private committed!: ReplayPosition;
  private lastProgressAt = 0;
  private rateWindow = { at: Date.now(), rows: 0 };
  private rate = 0;
  /** The last rows of committed transactions that went to the dead-letter topic. */
  readonly lastRejected: RejectedRow[] = [];
  private stats: PassStats = { feedWaitMs: 0, commitWaitMs: 0, paceWaitMs: 0, transactions: 0, wallMs: 0 };

  constructor(
    private readonly producer: ReplayProducer,
    private readonly req: ReplayRequest,
    private readonly hooks: ReplayHooks,
    private readonly runs: RunPlan[],
    private readonly order: ReplayOrder,
    /** A feed thread started ahead, for the first pass. */
    private spare: StartedFeedThread | undefined,
  ) {
    this.batchSize = req.batchSize ?? DEFAULT_BATCH_SIZE;
    // A pacer per attempt: a resumed replay keeps the speed from where it resumes instead of racing to catch up.
    this.pacer = new Pacer(req.speed, Date.now());
  }

  /** Runs to the end of the pass; returns the position committed at its end (the next pass, or done). */
  async run(from: ReplayPosition): Promise<ReplayPosition> {
    this.committed = from;
    const startedAt = Date.now();
    this.stats = { feedWaitMs: 0, commitWaitMs: 0, paceWaitMs: 0, transactions: 0, wallMs: 0 };
    const live = { ...from };
    this.rateWindow = { at: Date.now(), rows: from.produced + from.rejected };
    const cursors = new RunCursors(from.cursors);
    const feedOptions = {
      file: this.req.file,
      runs: this.runs,
      order: this.order,
      from: from.cursors,
      rowsPerChunk: chunkRows(this.req.speed),
      replayId: this.req.replayId,
    };
    let feed: RowFeed;
    if (this.req.feedThread === false) feed = await openInlineFeed(feedOptions);
    else {
      feed = (this.spare ?? startFeedThread()).open(feedOptions);
      this.spare = undefined;
    }
    try {
      const paced = this.req.speed.mode !== 'max';
      let batch = newBatch();
      const flush = async (end?: 'done' | 'next-pass') => {
        const snapshot: ReplayPosition = { ...live, cursors: cursors.snapshot(), updatedAt: new Date().toISOString() };
        if (end === 'done') snapshot.done = true;
        if (end === 'next-pass') {
          Object.assign(snapshot, {
            pass: live.pass + 1,
            consumed: 0,
            line: 0,
            cursors: this.runs.map((r) => r.start),
          });
        }
        const b = batch;
        batch = newBatch();
        await this.launch(b, snapshot);
      };

      for (;;) {
        this.maybeReport(live, false);
        if (this.hooks.signal.aborted) return await this.stop(live);
        const feedWaitFrom = Date.now();
        const chunk = await feed.next();
        this.stats.feedWaitMs += Date.now() - feedWaitFrom;
        if (chunk === null) break;
        for (let i = 0; i < chunk.count; i++) {
          if (this.hooks.signal.aborted) return await this.stop(live);
          const key = chunk.keyTable[chunk.keyIds[i]];
          const now = Date.now();
          if (paced) {
            if (key !== this.pacedKey) {
              this.pacedKey = key;
              this.pacedDays++;
            }
            const wait = this.pacer.waitMs(this.pacedRows, this.pacedDays, now);
            if (wait > 0) {
              if (batch.rows > 0 && now - batch.startedAt + wait >= LINGER_MS) await flush();
              this.maybeReport(live, false);
              const sleepFrom = Date.now();
              await this.sleep(wait);
              this.stats.paceWaitMs += Date.now() - sleepFrom;
              if (this.hooks.signal.aborted) return await this.stop(live);
            }
            // Rows read ahead and held back until due say when they went, not when they were read.
            const due = Date.now();
            if (due - stampOf(chunk, i) >= RESTAMP_AFTER_MS) restamp(chunk, i, due);
            this.pacedRows++;
          }
          if (batch.rows === 0) batch.startedAt = now;
          addRow(batch, chunk, i);
          if (chunk.kinds[i] === TICK) live.produced++;
          else live.rejected++;
          live.consumed++;
          live.line = chunk.lines[i];
          cursors.advance(chunk, i, key);
          if (
            batch.rows >= this.batchSize ||
            batch.bytes >= MAX_BATCH_BYTES ||
            now - batch.startedAt >= MAX_BATCH_AGE_MS
          ) {
            await flush();
          }
        }
        if (paced && batch.rows > 0 && Date.now() - batch.startedAt >= LINGER_MS) await flush();
      }
      await flush(this.req.loop ? 'next-pass' : 'done');
      await this.inflight;
      this.stats.wallMs = Date.now() - startedAt;
      this.hooks.stats?.(this.stats);
      this.maybeReport(this.committed, true);
      return this.committed;
    } finally {
      await feed.close();
    }
  }

  /** Waits for the transaction in flight, then starts one for this batch and returns without waiting for it. */
  private async launch(batch: Batch, snapshot: ReplayPosition): Promise<void> {
    if (this.inflight) {
      const waitFrom = Date.now();
      await this.inflight;
      this.stats.commitWaitMs += Date.now() - waitFrom;
    }
    // Stopped while the previous transaction committed: this batch is not sent (it is read again on resume).
    if (this.hooks.signal.aborted) return;
    this.stats.transactions++;
    const rejectedBefore = this.committed.rejected;
    const p = this.commit(batch, snapshot).then(() => {
      if (snapshot.rejected > rejectedBefore) this.noteRejected(batch);
      this.committed = snapshot;
      this.maybeReport(snapshot, false, true);
    });
    // Handled when awaited; this keeps a failure that happens while rows are being read from being unhandled.
    p.catch(() => undefined);
    this.inflight = p;
  }

  /** Keeps the last LAST_REJECTED dead letters of a committed batch (rare: only batches with some look). */
  private noteRejected(batch: Batch): void {
    for (const part of batch.parts) {
      const c = part.chunk;
      const reasonAt = c.headerNames[DEAD_LETTER].indexOf('reason');
      for (let i = part.from; i < part.to; i++) {
        if (c.kinds[i] !== DEAD_LETTER) continue;
        const header = messageAt(c, chunkBytes(c), i).headers[reasonAt];
        this.lastRejected.push({ line: c.lines[i], reason: header?.reason?.toString('utf8') ?? '' });
        if (this.lastRejected.length > LAST_REJECTED) this.lastRejected.shift();
      }
    }
  }

  private async commit(batch: Batch, position: ReplayPosition): Promise<void> {
    const producer = this.producer;
    try {
      await producer.begin();
      for (const part of batch.parts) {
        const c = part.chunk;
        const data = chunkBytes(c);
        for (let i = part.from; i < part.to; i++) {
          const m = messageAt(c, data, i);
          const topic = c.kinds[i] === TICK ? this.req.topic : this.req.dlqTopic;
          const timestamp = stampOf(c, i);
          while (!producer.send(topic, m.value, m.key, m.headers, timestamp)) await producer.room();
        }
      }
      // The position goes with the batch: the transaction holds it whatever else it holds.
      const p = positionMessage(this.req.replayId, position);
      while (!producer.send(this.req.positionsTopic, Buffer.from(p.value), p.key)) await producer.room();
      await producer.commit();
    } catch (err) {
      await producer.abort().catch(() => undefined);
      if (!isFenced(err)) throw err;
      this.hooks.log.warn('replay producer fenced: a newer attempt of the replay took over; this attempt stops', {
        replayId: this.req.replayId,
        error: String(err),
      });
      throw new Error(
        `replay '${this.req.replayId}': this attempt's producer was fenced by a newer attempt (${String(err)}); ` +
          'its batch was aborted and the newer attempt goes on from the committed position',
      );
    }
  }

  /** Stops without committing the rows read since the last batch left: they are read again on resume. */
  private async stop(live: ReplayPosition): Promise<never> {
    if (this.inflight) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_WAIT_MS)));
      const outcome = await Promise.race([
        this.inflight.then(
          () => 'committed' as const,
          (err: unknown) => err,
        ),
        timeout,
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout')
        this.hooks.log.warn('replay stopping without waiting for its last transaction', {
          replayId: this.req.replayId,
        });
      else if (outcome !== 'committed')
        this.hooks.log.warn('last transaction of a stopping replay failed', {
          replayId: this.req.replayId,
          error: String(outcome),
        });
    }
    const p = progressOf(this.committed, {
      rowsRead: live.produced + live.rejected,
      rate: 0,
      done: false,
      lastRejected: this.lastRejected,
    });
    this.hooks.progress(p, true);
    throw new ReplayStopped(p);
  }

  private async sleep(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || this.hooks.signal.aborted) return;
      await delay(Math.min(left, SLEEP_SLICE_MS), undefined, { signal: this.hooks.signal }).catch(() => undefined);
      this.maybeReport(this.committed, false);
    }
  }

  private maybeReport(p: ReplayPosition, final: boolean, force = false): void {
    const now = Date.now();
    if (!final && !force && now - this.lastProgressAt < PROGRESS_EVERY_MS) return;
    this.lastProgressAt = now;
    const rows = this.committed.produced + this.committed.rejected;
    if (now - this.rateWindow.at >= 1000) {
      this.rate = Math.round(((rows - this.rateWindow.rows) * 1000) / (now - this.rateWindow.at));
      this.rateWindow = { at: now, rows };
    }
    this.hooks.progress(
      progressOf(this.committed, {
        lastRejected: this.lastRejected,
        rowsRead: p.produced + p.rejected,
        rate: final ? 0 : this.rate,
        done: final && this.committed.done,
      }),
      final,
    );
  }
}

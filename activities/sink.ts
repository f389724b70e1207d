/**
 * The long-running S3 sink activity: a Kafka consumer-group member writing the lake exactly once
 * (src/sink/lake-sink.ts does the work). It heartbeats its offsets, counters and lag (the Web UI shows
 * them; clients read them with `describe`, see src/progress.ts); a retried attempt resumes from the
 * durable position (committed offsets and manifests) and takes its counters from the last heartbeat;
 * cancellation (pause, worker shutdown) drains it: flush, commit, leave.
 */
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import type { S3Client } from '@aws-sdk/client-s3';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { Kafka } from 'kafkajs';
import type { PipelineMetrics } from '../src/metrics';
import { checkTableLayout, LayoutMismatchError } from '../src/catalog/layout-record';
import { registerPartitionPaths } from '../src/catalog/crawl';
import { INVALID_SINK_CONFIG, SINK_LAYOUT_CONFLICT } from '../src/errors/sink';
import { compressionProblem } from '../src/sink/format';
import { LakeSink, SinkFailure, type LakeSinkOptions } from '../src/sink/lake-sink';
import { PartitionNotifier } from '../src/sink/partition-notices';
import type { SinkStorage } from '../src/sink/partition-writer';
import { bucketProblem, s3SinkStorage } from '../src/sink/storage';
import type { CrawlInput, SinkInput, SinkProgress } from './types';

/** What the sink needs to announce new lake partitions to the table's crawl workflow. */
export interface PartitionNotice {
  taskQueue: string;
  crawl: CrawlInput;
  partitions: string[];
  /** Announced when buffered, before any object of them is written. */
  buffered?: boolean;
}

export interface SinkDeps {
  kafka: Kafka;
  s3: S3Client;
  /**
   * Sends new-partition notices to the crawl workflow (`notifyNewPartitions` of src/pipeline.ts, bound
   * to a client). Without it no notices are sent.
   */
  notifyPartitions?: (notice: PartitionNotice) => Promise<void>;
  /**
   * With it, the sink registers the partitions it has only buffered records for in Glue itself; the
   * crawl workflow hears only of those it could not register (see registerAhead).
   */
  glue?: GlueClient;
  metrics?: PipelineMetrics;
  /** Replaces the S3 storage of a bucket (benchmarks wrap it to time writes). */
  storage?: (bucket: string) => SinkStorage;
  /** Called after every durable flush (benchmarks measure freshness with it). */
  onFlush?: LakeSinkOptions['onFlush'];
  onJoin?: LakeSinkOptions['onJoin'];
  onCommit?: LakeSinkOptions['onCommit'];
  /** kafkajs consumer tuning (benchmarks); defaults in src/sink/lake-sink.ts. */
  consumer?: LakeSinkOptions['consumer'];
}

/** How often the activity heartbeats; the worker throttles what reaches the server to 1 s. */
const HEARTBEAT_MS = 250;

/** Bad configuration fails at once and is not retried. */
async function configProblem(deps: SinkDeps, input: SinkInput): Promise<string | undefined> {
  const compression = compressionProblem(input.compression);
  if (compression) return compression;
  if (!(input.flushMs > 0 && input.maxRecords > 0 && input.maxBytes > 0)) {
    return 'SINK_FLUSH_MS, SINK_MAX_RECORDS and SINK_MAX_BYTES must be greater than 0';
  }
  if (
    input.partitionBy.includes('symbol_bucket') &&
    !(Number.isSafeInteger(input.symbolBuckets) && input.symbolBuckets! > 0)
  ) {
    return 'the symbol_bucket partition needs symbolBuckets, a positive whole number (LAKE_SYMBOL_BUCKETS)';
  }
  const bucket = await bucketProblem(deps.s3, input.bucket);
  if (bucket) return bucket;
  try {
    await checkTableLayout(deps.s3, {
      bucket: input.bucket,
      prefix: input.prefix,
      table: input.table,
      layout: { partitionBy: input.partitionBy, symbolBuckets: input.symbolBuckets },
    });
  } catch (err) {
    if (err instanceof LayoutMismatchError) return err.message;
    throw err;
  }
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(input.topic)) {
      return `topic '${input.topic}' does not exist; start the worker (it creates the topics) or set KAFKA_TOPIC`;
    }
  } finally {
    await admin.disconnect();
  }
  return undefined;
}

/**
 * Registers partitions the sink has just buffered records for, from the sink's own process: a notice
 * through the crawl workflow (signal, batch, activity, one batch at a time) came after the partition's
 * first object for a third of the records at 2,000 records/s (docs/benchmarks.md, bench:peers). Returns
 * whether the crawl workflow must still hear of them now: the table does not exist yet (its written
 * notice has the crawl create it), a path did not fit the layout, or Glue failed.
 */
async function registerAhead(glue: GlueClient, notice: PartitionNotice): Promise<boolean> {
  try {
    const r = await registerPartitionPaths(glue, { crawl: notice.crawl, partitions: notice.partitions });
    return r.tableMissing || r.rejected.length > 0;
  } catch (err) {
    log.warn('registering buffered partitions failed; the crawl workflow registers them', {
      partitions: notice.partitions.length,
      error: String(err),
    });
    return true;
  }
}

/** One activity execution (the same across its attempts): `<workflow id>/<run id>/<activity id>`. */
function writerId(ctx: Context): string {
  const wf = ctx.info.workflowExecution;
  return wf ? `${wf.workflowId}/${wf.runId}/${ctx.info.activityId}` : `activity/${ctx.info.activityId}`;
}

export function createSinkActivities(deps: SinkDeps) {
  return {
    /**
     * Runs until cancelled. Cancelled by its workflow (pause): writes and commits what it holds and
     * returns its counters. Worker shutdown: the same drain, then the attempt fails so that it is
     * retried on the next worker.
     */
    async sinkToLake(input: SinkInput): Promise<SinkProgress> {
      const ctx = Context.current();
      const problem = await configProblem(deps, input);
      if (problem) throw ApplicationFailure.nonRetryable(problem, INVALID_SINK_CONFIG);

      const resume = ctx.info.attempt > 1 ? (ctx.info.heartbeatDetails as SinkProgress | undefined) : undefined;
      const crawl = input.crawl;
      const notify = deps.notifyPartitions;
      // Two notifiers: partitions only buffered so far (registered a flush bound ahead of their first
      // object, so that the catalog has them when it is written), and partitions written to: those the
      // sink registered itself need no notice; the others go to the crawl workflow, which creates a
      // missing table.
      const registeredBySink = new Set<string>();
      const notifierOf = (buffered: boolean) =>
        crawl && notify
          ? new PartitionNotifier(
              async (partitions) => {
                if (!buffered) partitions = partitions.filter((p) => !registeredBySink.has(p));
                if (partitions.length === 0) return;
                const notice: PartitionNotice = {
                  taskQueue: ctx.info.taskQueue,
                  crawl,
                  partitions,
                  ...(buffered ? { buffered } : {}),
                };
                if (buffered && deps.glue && !(await registerAhead(deps.glue, notice))) {
                  for (const p of partitions) registeredBySink.add(p);
                  return;
                }
                await notify(notice);
              },
              { intervalMs: 100, log },
            )
          : undefined;
      const notifier = notifierOf(false);
      const earlyNotifier = notifierOf(true);
      const metrics = deps.metrics;
      const sink = new LakeSink({
        kafka: deps.kafka,
        storage: deps.storage?.(input.bucket) ?? s3SinkStorage(deps.s3, input.bucket),
        settings: {
          topic: input.topic,
          groupId: input.groupId,
          prefix: input.prefix,
          table: input.table,
          partitionBy: input.partitionBy,
          symbolBuckets: input.symbolBuckets,
          compression: input.compression,
          flushMs: input.flushMs,
          maxRecords: input.maxRecords,
          maxBytes: input.maxBytes,
          maxMessageBytes: input.maxMessageBytes,
          maxBufferedBytes: input.maxBufferedBytes,
        },
        log,
        writerId: writerId(ctx),
        attempt: ctx.info.attempt,
        resume,
        notifier,
        earlyNotifier,
        onJoin: deps.onJoin,
        onCommit: deps.onCommit,
        consumer: deps.consumer,
        onFlush: (r, at) => {
          if (metrics && !r.adopted) {
            metrics.recordsSunk(r.records, input.topic);
            metrics.deadLetters(r.deadLetters, input.topic);
            metrics.bytesWritten(r.bytes, input.topic);
            metrics.filesWritten(r.files, input.topic);
          }
          metrics?.flushLatency(at - r.oldestReceivedAt, input.topic);
          deps.onFlush?.(r, at);
        },
      });
      log.info('sink starting', {
        topic: input.topic,
        groupId: input.groupId,
        attempt: ctx.info.attempt,
        resumedRecords: resume?.records ?? 0,
      });
      // The heartbeat details are the sink's progress: what a retry resumes its counters from, what the
      // Web UI shows, and what `describe` gives clients (nothing goes into the workflow's history).
      const report = (): SinkProgress => {
        const st = sink.status();
        ctx.heartbeat(st);
        if (metrics) for (const p of st.partitions) metrics.lag(Number(p.lag), input.topic, p.partition);
        return st;
      };
      const beat = setInterval(report, HEARTBEAT_MS);
      try {
        // A pause while the consumer is still joining (a broker away) need not wait for the join.
        const starting = sink.start();
        starting.catch(() => undefined); // observed by the race; a late failure after a pause is moot
        await Promise.race([starting, ctx.cancelled]);
        report();
        await Promise.race([ctx.cancelled, sink.failed]);
        throw new Error('unreachable: the sink only ends by cancellation or failure');
      } catch (err) {
        clearInterval(beat);
        if (err instanceof CancelledFailure) {
          // Pause, worker shutdown, or (a zombie) the server no longer knows this attempt.
          log.info('sink cancelled; draining', { reason: err.message });
          // Pause or shutdown: stop fetching, write what is held, commit, leave the group.
          await sink.drain();
          // Paused by its workflow: the drained run's counters are its result (the workflow adds them to
          // the earlier runs'). Shutdown and the rest fail the attempt, so that another worker retries it.
          if (err.message === 'CANCELLED') return sink.status();
          throw err;
        }
        await sink.close();
        if (err instanceof SinkFailure) {
          throw ApplicationFailure.create({
            message: err.message,
            type: err.type,
            nonRetryable: err.type === SINK_LAYOUT_CONFLICT,
            cause: err.cause instanceof Error ? err.cause : undefined,
          });
        }
        throw err;
      }
    },
  };
}

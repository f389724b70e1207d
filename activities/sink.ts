/** The long-running S3 sink: a Kafka consumer group member writing the lake exactly once. */
import { Context, CancelledFailure, log } from '@temporalio/activity';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Consumer, Kafka } from 'kafkajs';
import { getJson, putIfAbsent, putObject } from '../src/adapters/s3';
import { PartitionWriter, type SinkStorage } from '../src/sink/partition-writer';
import type { PartitionStatus, SinkInput, SinkProgress } from './types';
import type { ProgressReporter } from './progress';

export interface SinkDeps {
  kafka: Kafka;
  s3: S3Client;
  reporter: ProgressReporter;
  /** Called with lake partitions that this sink wrote to for the first time. */
  onNewPartitions?: (partitions: string[]) => void;
}

interface PartitionState {
  writer: PartitionWriter;
  committed: bigint;
  position: bigint;
  highWatermark: bigint;
  /** Serialises flushes of this partition. */
  chain: Promise<void>;
}

const TICK_MS = 50;

export function createSinkActivities(deps: SinkDeps) {
  return {
    /** Runs until cancelled (pause): then flushes what it holds, commits, and returns. */
    async sinkToLake(input: SinkInput): Promise<SinkProgress> {
      const ctx = Context.current();
      const storage: SinkStorage = {
        putIfAbsent: (key, body) => putIfAbsent(deps.s3, input.bucket, key, body),
        getJson: (key) => getJson(deps.s3, input.bucket, key),
        put: (key, body, type) => putObject(deps.s3, input.bucket, key, body, type),
      };
      const counters = { records: 0, deadLetters: 0, bytes: 0, files: 0, flushes: 0, lastFlushAt: undefined as string | undefined };
      const seenPartitions = new Set<string>();
      const states = new Map<number, PartitionState>();
      let generation = 0;
      let stopping = false;
      let failure: unknown;

      const consumer: Consumer = deps.kafka.consumer({
        groupId: input.groupId,
        readUncommitted: false,
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
        maxBytesPerPartition: 8 * 1024 * 1024,
        maxBytes: 32 * 1024 * 1024,
        maxWaitTimeInMs: 100,
        allowAutoTopicCreation: false,
      });

      const stateFor = (partition: number): PartitionState => {
        let s = states.get(partition);
        if (!s) {
          s = {
            writer: new PartitionWriter(
              {
                topic: input.topic,
                partition,
                groupId: input.groupId,
                prefix: input.prefix,
                table: input.table,
                partitionBy: input.partitionBy,
                compression: input.compression,
                maxRecords: input.maxRecords,
                maxBytes: input.maxBytes,
                maxMessageBytes: input.maxMessageBytes ?? 1024 * 1024,
              },
              storage,
            ),
            committed: -1n,
            position: -1n,
            highWatermark: 0n,
            chain: Promise.resolve(),
          };
          states.set(partition, s);
        }
        return s;
      };

      const commit = async (partition: number, offset: bigint) => {
        const s = states.get(partition);
        if (!s || offset <= s.committed) return;
        try {
          await consumer.commitOffsets([{ topic: input.topic, partition, offset: offset.toString() }]);
          s.committed = offset;
        } catch (err) {
          // A rebalance took the partition: its new owner replays from the last commit, and the
          // manifests make that replay write the same objects.
          log.warn('offset commit failed', { topic: input.topic, partition, offset: offset.toString(), error: String(err) });
        }
      };

      /** Flushes one partition (serialised with other flushes of it); keeps records on failure. */
      const flush = (partition: number): Promise<void> => {
        const s = stateFor(partition);
        const gen = generation;
        s.chain = s.chain.then(async () => {
          if (gen !== generation) return;
          const started = Date.now();
          const result = await s.writer.flush();
          if (gen !== generation) return;
          if (result) {
            counters.flushes++;
            counters.records += result.manifest.files.reduce((n, f) => n + f.records, 0);
            counters.deadLetters += result.manifest.deadLetters?.records ?? 0;
            counters.files += result.manifest.files.length + (result.manifest.deadLetters ? 1 : 0);
            counters.bytes += result.bytes;
            counters.lastFlushAt = new Date().toISOString();
            const fresh = result.lakePartitions.filter((p) => !seenPartitions.has(p));
            fresh.forEach((p) => seenPartitions.add(p));
            if (fresh.length > 0) deps.onNewPartitions?.(fresh);
            log.debug('flushed', { partition, first: result.manifest.first, end: result.manifest.end, ms: Date.now() - started });
            await commit(partition, BigInt(result.manifest.end));
          }
          // Nothing left below the fetch position: commit it, so transaction markers do not show as lag.
          if (s.writer.size === 0 && s.position > s.committed) await commit(partition, s.position);
        });
        return s.chain.catch((err: unknown) => {
          log.warn('flush failed; records stay buffered and are retried', { partition, error: String(err) });
          s.chain = Promise.resolve();
        });
      };

      const status = (): SinkProgress => ({
        ...counters,
        partitions: [...states.entries()]
          .sort(([a], [b]) => a - b)
          .map(
            ([partition, s]): PartitionStatus => ({
              partition,
              committed: s.committed.toString(),
              position: s.position.toString(),
              highWatermark: s.highWatermark.toString(),
              lag: (s.highWatermark > s.committed && s.committed >= 0n ? s.highWatermark - s.committed : 0n).toString(),
            }),
          ),
        updatedAt: new Date().toISOString(),
      });

      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        // After a rebalance kafkajs fetches again from the committed offsets: drop what is buffered.
        generation++;
        for (const s of states.values()) s.writer.reset();
        const assigned = new Set(e.payload.memberAssignment[input.topic] ?? []);
        for (const p of [...states.keys()]) if (!assigned.has(p)) states.delete(p);
        log.info('sink joined group', { groupId: input.groupId, partitions: [...assigned] });
      });
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) failure = e.payload.error;
      });

      await consumer.connect();
      await consumer.subscribe({ topic: input.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 4,
        eachBatch: async ({ batch, isStale, heartbeat }) => {
          if (isStale() || stopping) return;
          const s = stateFor(batch.partition);
          const now = Date.now();
          for (const m of batch.messages) s.writer.add(BigInt(m.offset), m.key, m.value, now);
          s.position = BigInt(batch.lastOffset()) + 1n;
          s.highWatermark = BigInt(batch.highWatermark);
          if (s.committed < 0n && batch.messages.length > 0) s.committed = BigInt(batch.messages[0].offset);
          // Backpressure: while a partition is full, do not return (and so do not fetch more).
          while (s.writer.full() && !stopping) {
            await flush(batch.partition);
            await heartbeat();
            if (s.writer.full()) await ctx.sleep(500).catch(() => undefined);
          }
        },
      });

      const ticker = setInterval(() => {
        const now = Date.now();
        for (const [partition, s] of states) {
          const oldest = s.writer.oldestReceivedAt;
          // Flush at half the bound so the write itself fits inside it.
          if ((oldest !== undefined && now - oldest >= input.flushMs / 2) || (s.writer.size === 0 && s.position > s.committed)) {
            void flush(partition);
          }
        }
      }, TICK_MS);
      const beat = setInterval(() => {
        const st = status();
        ctx.heartbeat(st);
        if (input.progressWorkflowId) deps.reporter.report(input.progressWorkflowId, 'sinkProgressSignal', st);
      }, 1000);

      try {
        await Promise.race([
          ctx.cancelled,
          new Promise<never>((_, reject) => {
            const check = setInterval(() => {
              if (failure) {
                clearInterval(check);
                reject(failure as Error);
              }
            }, 200);
            ctx.cancelled.catch(() => clearInterval(check));
          }),
        ]);
        throw new Error('unreachable');
      } catch (err) {
        stopping = true;
        clearInterval(ticker);
        clearInterval(beat);
        if (err instanceof CancelledFailure) {
          // Pause drains: stop fetching, write what is held, commit, leave the group.
          consumer.pause([{ topic: input.topic }]);
          for (const partition of states.keys()) await flush(partition);
          const st = status();
          await consumer.disconnect();
          if (input.progressWorkflowId) deps.reporter.report(input.progressWorkflowId, 'sinkProgressSignal', st, true);
          log.info('sink drained', { records: st.records, files: st.files });
        } else {
          await consumer.disconnect().catch(() => undefined);
        }
        throw err;
      }
    },
  };
}

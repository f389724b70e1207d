/**
 * A replay's source position, stored in a compacted Kafka topic and written in the same transaction
 * as the ticks it accounts for (the way Kafka Connect stores exactly-once source offsets). Reading it
 * back with read_committed gives exactly the rows whose ticks are in the topic.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { SourceFingerprint } from './csv-source';

export interface ReplayPosition {
  /** Data rows of the ordered stream consumed (produced or dead-lettered) in the current pass. */
  consumed: number;
  produced: number;
  rejected: number;
  /** Completed passes over the file (loop mode). */
  pass: number;
  fingerprint: SourceFingerprint;
  /** Line number of the last consumed row. */
  line: number;
  updatedAt: string;
}

/** Latest committed position of a replay, or undefined when it never committed one. */
export async function readPosition(kafka: Kafka, topic: string, replayId: string): Promise<ReplayPosition | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  if (pending.size === 0) return undefined;

  let latest: ReplayPosition | undefined;
  const consumer = kafka.consumer({ groupId: `ticklake-position-reader-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (m.key?.toString() === replayId) latest = m.value ? (JSON.parse(m.value.toString()) as ReplayPosition) : undefined;
            }
            // lastOffset() counts transaction markers and aborted records too, so it reaches the end.
            if (BigInt(batch.lastOffset()) + 1n >= (ends.get(batch.partition) ?? 0n)) {
              pending.delete(batch.partition);
              if (pending.size === 0) resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return latest;
}

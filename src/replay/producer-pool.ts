/**
 * Transactional producers of the replays running in a worker process, all made from the process's one
 * Kafka client.
 *
 * Every activity attempt gets a producer of its own, fenced before it is handed out: kafkajs only sends
 * InitProducerId for the transactional id at the first transaction (connect() initialises a plain
 * idempotent id), so acquire() opens and ends an empty transaction. From then on, every older producer
 * with the same transactional id (a zombie attempt in this process or another one) fails its next send
 * or commit, its open transaction is aborted, and a commit it had already sent is complete: the position
 * read after acquire() is final.
 */
import type { Kafka, Producer } from 'kafkajs';

export interface ProducerLease {
  producer: Producer;
  transactionalId: string;
  /** Disconnects the producer (harmless when it broke or was fenced). */
  release(): Promise<void>;
}

/** Producer settings of a replay; the fields document their unit. */
export const REPLAY_PRODUCER_SETTINGS = {
  /** ms the coordinator waits before it aborts a transaction of a producer that died. */
  transactionTimeout: 30_000,
  /**
   * Retries of a send inside a transaction. Bounded (kafkajs defaults to endless retries for idempotent
   * producers): a failed send aborts the transaction, and the activity retry resumes from the position.
   * The first retry is quick because a send right after a commit often meets CONCURRENT_TRANSACTIONS
   * while the broker writes the commit markers.
   */
  retry: { initialRetryTime: 20, maxRetryTime: 2_000, retries: 12 },
} as const;

export class ProducerPool {
  private readonly live = new Map<string, Set<Producer>>();

  constructor(private readonly kafka: Kafka) {}

  static transactionalId(replayId: string): string {
    return `ticklake-replay-${replayId}`;
  }

  /** A new, fenced producer for one attempt of a replay. */
  async acquire(replayId: string): Promise<ProducerLease> {
    const transactionalId = ProducerPool.transactionalId(replayId);
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: REPLAY_PRODUCER_SETTINGS.transactionTimeout,
      allowAutoTopicCreation: false,
      retry: { ...REPLAY_PRODUCER_SETTINGS.retry },
    });
    const set = this.live.get(transactionalId) ?? new Set<Producer>();
    this.live.set(transactionalId, set);
    set.add(producer);
    const release = async () => {
      set.delete(producer);
      if (set.size === 0 && this.live.get(transactionalId) === set) this.live.delete(transactionalId);
      await producer.disconnect().catch(() => undefined);
    };
    try {
      await producer.connect();
      const fence = await producer.transaction();
      await fence.abort();
    } catch (err) {
      await release();
      throw err;
    }
    return { producer, transactionalId, release };
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.values()].flatMap((s) => [...s]);
    this.live.clear();
    await Promise.all(all.map((p) => p.disconnect().catch(() => undefined)));
  }
}

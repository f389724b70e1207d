/** Transactional producers, one per replay id, kept for the life of a worker process. */
import type { Kafka, Producer } from 'kafkajs';

export class ProducerPool {
  private readonly producers = new Map<string, Promise<Producer>>();

  constructor(private readonly kafka: Kafka) {}

  static transactionalId(replayId: string): string {
    return `ticklake-replay-${replayId}`;
  }

  /** The producer of a replay; the first call runs InitProducerId, which fences any zombie with the same id. */
  get(replayId: string): Promise<Producer> {
    const transactionalId = ProducerPool.transactionalId(replayId);
    let p = this.producers.get(transactionalId);
    if (!p) {
      p = (async () => {
        const producer = this.kafka.producer({
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: 30_000,
          allowAutoTopicCreation: false,
        });
        await producer.connect();
        return producer;
      })();
      this.producers.set(transactionalId, p);
      p.catch(() => this.producers.delete(transactionalId));
    }
    return p;
  }

  /** Forgets a producer that was fenced or broke; the next get() makes a new one. */
  async drop(replayId: string): Promise<void> {
    const key = ProducerPool.transactionalId(replayId);
    const p = this.producers.get(key);
    this.producers.delete(key);
    if (p) await (await p.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.disconnect().catch(() => undefined)));
  }
}

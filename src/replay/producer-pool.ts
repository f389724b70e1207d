/**
 * Transactional producers of the replays running in a worker process, on librdkafka (through
 * @confluentinc/kafka-javascript's native API).
 *
 * Why librdkafka and not kafkajs here: kafkajs encodes every record in JavaScript (a buffer per field,
 * CRC-32C in JavaScript, a quadratic grouping per request), about 30 us of CPU a row, which capped a
 * replay near 20,000 rows/s on two cores. librdkafka copies each message once into C and batches,
 * compresses and checksums on its own threads, at a few microseconds a row.
 *
 * Every activity attempt gets a producer of its own: a transactional id is owned by one producer at a
 * time. acquire() runs InitProducerId (init_transactions) before handing the producer out; from then on,
 * every older producer with the same transactional id (a zombie attempt in this process or another one)
 * is fenced: its open transaction is aborted by the coordinator and its next send or commit fails. A
 * commit it had already completed is complete, so the position read after acquire() is final.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  CODES,
  Producer,
  type LibrdKafkaError,
  type MessageHeader,
  type ProducerGlobalConfig,
} from '@confluentinc/kafka-javascript';
import type { KafkaConfig } from '../config';

/** One open-transaction producer of one replay attempt. Not safe for two transactions at once. */
export interface ReplayProducer {
  begin(): Promise<void>;
  /**
   * Queues one message of the open transaction; false when librdkafka's queue is full (call
   * {@link ReplayProducer.room} and send it again). `partition` undefined: murmur2 of the key, as Java
   * clients and kafkajs pick it.
   */
  send(topic: string, value: Buffer, key: Buffer | string, headers?: MessageHeader[], timestamp?: number): boolean;
  /** Resolves when the queue has room again (librdkafka drains it to the broker on its own threads). */
  room(): Promise<void>;
  /** Sends what is queued and commits the transaction; rejects with the broker's or librdkafka's error. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerLease {
  producer: ReplayProducer;
  transactionalId: string;
  /** Disconnects the producer (harmless when it broke or was fenced). */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Default 'gzip'. */
  compression?: 'gzip' | 'none';
}

/** Producer settings of a replay; the fields document their unit. */
export const REPLAY_PRODUCER_SETTINGS = {
  /** ms the coordinator waits before it aborts a transaction of a producer that died. */
  transactionTimeoutMs: 30_000,
  /** ms a message may wait for the broker before its transaction fails (below the transaction timeout). */
  messageTimeoutMs: 25_000,
  /** ms a transactional call (init, commit, abort) may take before it fails and the attempt is retried. */
  callTimeoutMs: 30_000,
  /** ms librdkafka waits to fill a batch; commits flush at once, so this only shapes batches while sending. */
  lingerMs: 5,
  /** Messages librdkafka may hold before send() reports a full queue: a transaction of 20,000 rows fits. */
  queueMessages: 100_000,
  /** KiB librdkafka may hold, likewise (the default is 1 GiB). */
  queueKbytes: 64 * 1024,
} as const;

/** librdkafka settings shared by every replay producer: the client settings of config.kafka. */
export function nativeClientConfig(kafka: KafkaConfig): ProducerGlobalConfig {
  const conf: ProducerGlobalConfig = {
    'bootstrap.servers': kafka.brokers.join(','),
    'client.id': `${kafka.clientId}-replay`,
    'socket.connection.setup.timeout.ms': 10_000,
    'reconnect.backoff.max.ms': 2_000,
  };
  if (kafka.sasl && kafka.sasl.mechanism !== 'aws') {
    conf['security.protocol'] = kafka.ssl ? 'sasl_ssl' : 'sasl_plaintext';
    conf['sasl.mechanisms'] = kafka.sasl.mechanism.toUpperCase();
    conf['sasl.username'] = kafka.sasl.username;
    conf['sasl.password'] = kafka.sasl.password;
  } else if (kafka.ssl) {
    conf['security.protocol'] = 'ssl';
  }
  return conf;
}

const FENCED_CODES = new Set<number>([
  CODES.ERRORS.ERR__FENCED,
  CODES.ERRORS.ERR_PRODUCER_FENCED,
  CODES.ERRORS.ERR_INVALID_PRODUCER_EPOCH,
]);

/** Whether an error says that a newer producer with the same transactional id fenced this one. */
export function isFenced(err: unknown): boolean {
  for (
    let e = err as (Partial<LibrdKafkaError> & { cause?: unknown }) | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'number' && FENCED_CODES.has(e.code)) return true;
    // Once fenced, every call fails with the fatal error that names the fencing.
    if (e.code === CODES.ERRORS.ERR__FATAL && /fenc|epoch/i.test(e.message ?? '')) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** librdkafka's errors are plain objects: an Error with its text, code and flags, for logs and failures. */
function asError(err: LibrdKafkaError, what: string): Error {
  const e = new Error(`${what}: ${err.message} (librdkafka code ${err.code})`) as Error & Partial<LibrdKafkaError>;
  Object.assign(e, {
    code: err.code,
    isFatal: err.isFatal,
    isRetriable: err.isRetriable,
    isTxnRequiresAbort: err.isTxnRequiresAbort,
  });
  return e;
}

function call(what: string, f: (cb: (err: LibrdKafkaError | null | undefined) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => f((err) => (err ? reject(asError(err, what)) : resolve())));
}

class NativeReplayProducer implements ReplayProducer {
  constructor(private readonly native: Producer) {}

  begin(): Promise<void> {
    return call('begin transaction', (cb) => this.native.beginTransaction(cb));
  }

  send(topic: string, value: Buffer, key: Buffer | string, headers?: MessageHeader[], timestamp?: number): boolean {
    try {
      this.native.produce(topic, null, value, key, timestamp ?? null, undefined, headers);
      return true;
    } catch (err) {
      if ((err as LibrdKafkaError).code === CODES.ERRORS.ERR__QUEUE_FULL) return false;
      throw asError(err as LibrdKafkaError, `produce to '${topic}'`);
    }
  }

  async room(): Promise<void> {
    await delay(2);
  }

  commit(): Promise<void> {
    return call('commit transaction', (cb) =>
      this.native.commitTransaction(REPLAY_PRODUCER_SETTINGS.callTimeoutMs, cb),
    );
  }

  abort(): Promise<void> {
    return call('abort transaction', (cb) => this.native.abortTransaction(REPLAY_PRODUCER_SETTINGS.callTimeoutMs, cb));
  }
}

export class ProducerPool {
  private readonly live = new Map<string, Set<Producer>>();

  constructor(private readonly kafka: KafkaConfig) {}

  static transactionalId(replayId: string): string {
    return `ticklake-replay-${replayId}`;
  }

  /** A new producer for one attempt of a replay, with every older producer of the replay fenced. */
  async acquire(replayId: string, options: AcquireOptions = {}): Promise<ProducerLease> {
    const transactionalId = ProducerPool.transactionalId(replayId);
    const s = REPLAY_PRODUCER_SETTINGS;
    const native = new Producer({
      ...nativeClientConfig(this.kafka),
      'transactional.id': transactionalId,
      'enable.idempotence': true,
      'transaction.timeout.ms': s.transactionTimeoutMs,
      'message.timeout.ms': s.messageTimeoutMs,
      'compression.codec': options.compression === 'none' ? 'none' : 'gzip',
      // Level 1 compresses the ticks' JSON about 6:1 at a third of the default level's CPU.
      'compression.level': 1,
      // Java's partitioner (murmur2 of the key), the one kafkajs and the Kafka tools use too.
      partitioner: 'murmur2_random',
      'linger.ms': s.lingerMs,
      'queue.buffering.max.messages': s.queueMessages,
      'queue.buffering.max.kbytes': s.queueKbytes,
      dr_cb: false,
    });
    // Connection trouble is retried by librdkafka and surfaces as a failed call; the events only inform.
    native.on('event.error', () => undefined);
    const set = this.live.get(transactionalId) ?? new Set<Producer>();
    this.live.set(transactionalId, set);
    set.add(native);
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= (async () => {
        set.delete(native);
        if (set.size === 0 && this.live.get(transactionalId) === set) this.live.delete(transactionalId);
        await disconnect(native);
      })());
    try {
      await new Promise<void>((resolve, reject) =>
        native.connect({ timeout: s.callTimeoutMs }, (err) =>
          err ? reject(asError(err, `connect to Kafka at ${this.kafka.brokers.join(',')}`)) : resolve(),
        ),
      );
      await call('init transactions (fencing older attempts)', (cb) => native.initTransactions(s.callTimeoutMs, cb));
    } catch (err) {
      await release();
      throw err;
    }
    return { producer: new NativeReplayProducer(native), transactionalId, release };
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.values()].flatMap((s) => [...s]);
    this.live.clear();
    await Promise.all(all.map((p) => disconnect(p)));
  }
}

function disconnect(native: Producer): Promise<void> {
  if (!native.isConnected()) return Promise.resolve();
  return new Promise<void>((resolve) => native.disconnect(5_000, () => resolve()));
}

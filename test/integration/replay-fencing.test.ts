/**
 * The zombie case, made deterministic on the local broker: an attempt of a replay whose producer is
 * fenced by a newer attempt (another process, here another Kafka client) can no longer commit, and its
 * open transaction is aborted; only the newer attempt's batches and position are visible read_committed.
 */
import { randomBytes } from 'node:crypto';
import { createKafka, ensureTopics } from '../../src/adapters/kafka';
import { POSITION_VERSION, positionMessage, readPosition, type ReplayPosition } from '../../src/replay/positions';
import { ProducerPool, isFenced, type ReplayProducer } from '../../src/replay/producer-pool';
import { readTopic, topicEnd } from './replay-helpers';
import { removeResources } from './sink-support';
import { uniqueConfig, waitFor } from './support';

function position(consumed: number): ReplayPosition {
  return {
    version: POSITION_VERSION,
    order: 'file',
    pass: 0,
    consumed,
    produced: consumed,
    rejected: 0,
    line: consumed + 1,
    cursors: [{ offset: 100 * consumed, line: consumed + 2, key: '' }],
    fingerprint: { size: 1, mtimeMs: 1 },
    done: false,
    updatedAt: new Date().toISOString(),
  };
}

describe('replay producer fencing', () => {
  const config = uniqueConfig('replay-fence');
  afterAll(() => removeResources(config).catch(() => undefined));

  it('fences an older attempt: its transaction is aborted and it cannot commit', async () => {
    const replayId = `fence-${randomBytes(3).toString('hex')}`;
    const kafkaA = createKafka(config.kafka, '-zombie');
    const kafkaB = createKafka(config.kafka, '-successor');
    const admin = kafkaA.admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka, [config.kafka.topic, config.kafka.positionsTopic]);
    await admin.disconnect();
    const poolA = new ProducerPool({ ...config.kafka, clientId: `${config.kafka.clientId}-zombie` });
    const poolB = new ProducerPool({ ...config.kafka, clientId: `${config.kafka.clientId}-successor` });
    const send = (producer: ReplayProducer, value: string, consumed: number) => {
      const pos = positionMessage(replayId, position(consumed));
      expect(producer.send(config.kafka.topic, Buffer.from(value), value[0].toUpperCase())).toBe(true);
      expect(producer.send(config.kafka.positionsTopic, Buffer.from(pos.value), pos.key)).toBe(true);
    };
    try {
      // The older attempt commits one batch, then opens a second and stalls (a paused process).
      const a = await poolA.acquire(replayId);
      await a.producer.begin();
      send(a.producer, 'a-1', 1);
      await a.producer.commit();
      await a.producer.begin();
      send(a.producer, 'a-2', 2);
      // Its messages reach the broker (inside the open transaction) before the newer attempt starts.
      // (end offset 3: a-1, its commit marker, a-2)
      await waitFor('the stalled batch on the broker', async () => (await topicEnd(kafkaA, config.kafka.topic)) >= 3n);

      // A newer attempt takes over: acquiring its producer fences the old one and settles its transaction.
      const b = await poolB.acquire(replayId);
      expect(((await readPosition(kafkaB, config.kafka.positionsTopic, replayId)) as ReplayPosition).consumed).toBe(1);
      await b.producer.begin();
      send(b.producer, 'b-2', 2);
      await b.producer.commit();

      // The zombie wakes up and tries to go on: its commit is refused, and so is a new transaction.
      const commitError = await a.producer.commit().then(
        () => undefined,
        (err: unknown) => err,
      );
      console.log(`zombie commit: ${String(commitError)}`);
      expect(isFenced(commitError)).toBe(true);
      const nextError = await (async () => {
        await a.producer.begin();
        send(a.producer, 'a-3', 3);
        await a.producer.commit();
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      console.log(`zombie next transaction: ${String(nextError)}`);
      expect(isFenced(nextError)).toBe(true);
    } finally {
      await poolA.closeAll();
      await poolB.closeAll();
    }
    const committed = await readTopic(kafkaB, config.kafka.topic);
    expect(committed.map((m) => m.value).sort()).toEqual(['a-1', 'b-2']);
    expect(((await readPosition(kafkaB, config.kafka.positionsTopic, replayId)) as ReplayPosition).consumed).toBe(2);
  }, 120_000);
});

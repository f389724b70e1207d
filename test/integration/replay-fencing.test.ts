/**
 * The zombie case, made deterministic on the local broker: an attempt of a replay whose producer is
 * fenced by a newer attempt (another process, here another Kafka client) can no longer commit, and its
 * open transaction is aborted; only the newer attempt's batches and position are visible read_committed.
 */
import { randomBytes } from 'node:crypto';
import { createKafka, ensureTopics } from '../../src/adapters/kafka';
import { POSITION_VERSION, positionMessage, readPosition, type ReplayPosition } from '../../src/replay/positions';
import { ProducerPool } from '../../src/replay/producer-pool';
import { isFenced } from '../../src/replay/replayer';
import { readTopic } from './replay-helpers';
import { uniqueConfig } from './support';

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
  it('fences an older attempt: its transaction is aborted and it cannot commit', async () => {
    const config = uniqueConfig('replay-fence');
    const replayId = `fence-${randomBytes(3).toString('hex')}`;
    const kafkaA = createKafka(config.kafka, '-zombie');
    const kafkaB = createKafka(config.kafka, '-successor');
    const admin = kafkaA.admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka, [config.kafka.topic, config.kafka.positionsTopic]);
    await admin.disconnect();
    const poolA = new ProducerPool(kafkaA);
    const poolB = new ProducerPool(kafkaB);
    try {
      // The older attempt commits one batch, then opens a second and stalls (a paused process).
      const a = await poolA.acquire(replayId);
      const first = await a.producer.transaction();
      await first.sendBatch({
        topicMessages: [
          { topic: config.kafka.topic, messages: [{ key: 'A', value: 'a-1' }] },
          { topic: config.kafka.positionsTopic, messages: [positionMessage(replayId, position(1))] },
        ],
      });
      await first.commit();
      const stalled = await a.producer.transaction();
      await stalled.sendBatch({
        topicMessages: [
          { topic: config.kafka.topic, messages: [{ key: 'A', value: 'a-2' }] },
          { topic: config.kafka.positionsTopic, messages: [positionMessage(replayId, position(2))] },
        ],
      });

      // A newer attempt takes over: acquiring its producer fences the old one and settles its transaction.
      const b = await poolB.acquire(replayId);
      expect(((await readPosition(kafkaB, config.kafka.positionsTopic, replayId)) as ReplayPosition).consumed).toBe(1);
      const next = await b.producer.transaction();
      await next.sendBatch({
        topicMessages: [
          { topic: config.kafka.topic, messages: [{ key: 'B', value: 'b-2' }] },
          { topic: config.kafka.positionsTopic, messages: [positionMessage(replayId, position(2))] },
        ],
      });
      await next.commit();

      // The zombie wakes up and tries to go on: its commit is refused, and so is a new transaction.
      const commitError = await stalled.commit().then(
        () => undefined,
        (err: unknown) => err,
      );
      console.log(`zombie commit: ${String(commitError)}`);
      expect(isFenced(commitError)).toBe(true);
      const sendError = await (async () => {
        const t = await a.producer.transaction();
        await t.sendBatch({ topicMessages: [{ topic: config.kafka.topic, messages: [{ key: 'A', value: 'a-3' }] }] });
        await t.commit();
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      console.log(`zombie next transaction: ${String(sendError)}`);
      expect(sendError).toBeDefined();
    } finally {
      await poolA.closeAll();
      await poolB.closeAll();
    }
    const committed = await readTopic(kafkaB, config.kafka.topic);
    expect(committed.map((m) => m.value).sort()).toEqual(['a-1', 'b-2']);
    expect(((await readPosition(kafkaB, config.kafka.positionsTopic, replayId)) as ReplayPosition).consumed).toBe(2);
  }, 120_000);
});

/**
 * Poison messages written straight to the topic (not JSON, JSON without symbol, a 2 MB message, a
 * null value) go to the dead-letter prefix with their raw bytes, topic, partition, offset and reason,
 * are counted, and every good message still reaches the lake. Every new lake partition is registered
 * in Glue (by the sink, or through the crawl workflow while the table does not exist).
 */
import { randomBytes } from 'node:crypto';
import { CompressionTypes } from 'kafkajs';
import { createAwsClients } from '../../src/adapters/aws';
import { registeredPartitions, partitionId } from '../../src/catalog/glue-catalog';
import { startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { pauseSignal } from '../../workflows/definitions';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import { symbolBucket } from '../../src/symbol-bucket';
import {
  SAMPLE_CSV,
  TickProducer,
  lakeProblems,
  readDeadLetters,
  readLake,
  sourceRows,
  testKafka,
  toMessage,
} from './sink-support';
import { sinkStatus } from '../../src/progress';

describe('sink poison messages', () => {
  let h: Harness;
  let producer: TickProducer | undefined;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('sink-poison'));
  }, 120_000);
  afterAll(async () => {
    await producer?.close();
    await h?.close();
  });

  it('dead-letters each poison message with its raw bytes and reason, and writes every good one', async () => {
    const { config, client } = h;
    const { s3 } = createAwsClients(config.aws);
    const kafka = testKafka(config.kafka);
    const rows = sourceRows(SAMPLE_CSV);
    const good = rows.map((r) => toMessage(r, 'sample.csv'));
    // A 2 MB value that does not compress (the broker takes up to 4 MiB): valid JSON with a symbol,
    // refused only for its size.
    const big = Buffer.from(
      JSON.stringify({ symbol: 'HSI', trade_date: '1999-01-04', padding: randomBytes(1_500_000).toString('base64') }),
    );
    expect(big.length).toBeGreaterThan(2_000_000);
    const poison = [
      { key: 'HSI', value: Buffer.from('HSI,1987-01-02,2568.3,not json'), reason: 'not valid JSON' },
      {
        key: 'N225',
        value: Buffer.from(JSON.stringify({ trade_date: '1990-01-04', close: 1 })),
        reason: 'missing field: symbol',
      },
      { key: 'HSI', value: big, reason: 'exceeds 1048576' },
      { key: 'NYA', value: null, reason: 'empty message' },
    ];

    const sink = await startSink(client, config);
    producer = new TickProducer(kafka, config.kafka.topic, `test-${config.kafka.topic}`);
    const third = Math.floor(good.length / 3);
    await producer.stream(good.slice(0, third), 500);
    await producer.send(poison.slice(0, 2).map((p) => ({ key: p.key, value: p.value })));
    await producer.stream(good.slice(third, 2 * third), 500);
    // The big one alone and uncompressed, so that it really crosses the broker at 2 MB.
    const txnProducer = kafka.producer({
      transactionalId: `test-big-${config.kafka.topic}`,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await txnProducer.connect();
    const txn = await txnProducer.transaction();
    await txn.send({
      topic: config.kafka.topic,
      messages: [{ key: 'HSI', value: big }],
      compression: CompressionTypes.None,
    });
    await txn.commit();
    await txnProducer.disconnect();
    await producer.send([{ key: poison[3].key, value: poison[3].value }]);
    await producer.stream(good.slice(2 * third), 500);

    await waitForSinkCaughtUp(config, 90_000);
    const letters = await readDeadLetters(s3, config.lake.bucket, config.lake.prefix);
    expect(letters).toHaveLength(poison.length);
    for (const p of poison) {
      const letter = letters.find((l) =>
        p.value === null
          ? l.value_base64 === null
          : l.value_base64 !== null && Buffer.from(l.value_base64, 'base64').equals(p.value),
      );
      expect(letter).toBeDefined();
      expect(letter!.reason).toContain(p.reason);
      expect(letter!.topic).toBe(config.kafka.topic);
      expect(letter!.partition).toBeGreaterThanOrEqual(0);
      expect(BigInt(letter!.offset)).toBeGreaterThanOrEqual(0n);
      expect(Buffer.from(letter!.key_base64!, 'base64').toString()).toBe(p.key);
      expect(letter!.value_bytes).toBe(p.value?.length ?? 0);
    }
    const lake = await readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table);
    expect(lakeProblems(rows, lake, 'sample.csv')).toEqual([]);

    const status = await waitFor('the status to count everything', async () => {
      const s = await sinkStatus(sink);
      return s.records === rows.length && s.deadLetters === poison.length && s;
    });
    expect(status.state).toBe('running');

    // Every lake partition is registered in Glue: by the sink as it buffered the partition's first
    // record, or through the crawl workflow (signal-with-start) while the table did not exist yet.
    const expected = new Set(
      lake.map(({ record }) =>
        partitionId([record.trade_date.slice(0, 4), String(symbolBucket(record.symbol, config.lake.symbolBuckets))]),
      ),
    );
    const { glue } = createAwsClients(config.aws);
    const registered = await waitFor(
      'every lake partition registered in Glue',
      async () => {
        const found = await registeredPartitions(glue, config.glue.database, config.glue.table).catch(
          () => new Set<string>(),
        );
        return [...expected].every((p) => found.has(p)) && found;
      },
      30_000,
      500,
    );
    expect([...registered].sort()).toEqual([...expected].sort());

    await sink.signal(pauseSignal);
    await waitFor('the sink to drain', async () => (await sinkStatus(sink)).state === 'paused', 10_000);
    await sink.terminate('test over');
  }, 180_000);
});

/**
 * What ticklake relies on in kafkajs beyond its typed API (see the header of src/adapters/kafka.ts).
 * Each test fails when a kafkajs upgrade changes the piece it pins: look there first after an upgrade.
 */
import { CompressionCodecs, CompressionTypes, type Batch } from 'kafkajs';
import { errorCodes } from 'kafkajs/src/protocol/error';
import type { KafkaConfig } from '../../src/config';
import { batchFetchedOffset, createKafka, gzipCodec, useGzipCodec } from '../../src/adapters/kafka';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs's Batch class is not exported; the test builds one as the consumer does
const KafkajsBatch = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: { partition: number; highWatermark: string; messages: { offset: string }[] },
) => Batch;

describe('kafkajs internals used by the Kafka adapter', () => {
  it('the broker error table still names the errors kafkajs retries and the rebalance, by message', () => {
    const byType = new Map(errorCodes.map((e) => [e.type, e]));
    expect(errorCodes.length).toBeGreaterThan(50);
    expect(byType.get('GROUP_COORDINATOR_NOT_AVAILABLE')).toMatchObject({
      code: 15,
      retriable: true,
      message: 'The group coordinator is not available',
    });
    expect(byType.get('NOT_LEADER_FOR_PARTITION')).toMatchObject({ code: 6, retriable: true });
    expect(byType.get('REBALANCE_IN_PROGRESS')).toMatchObject({
      code: 27,
      message: 'The group is rebalancing, so a rejoin is needed',
    });
  });

  it("a batch's fetchedOffset is where its fetch started, even before its first message", () => {
    // A fetch from offset 10 whose first message left after compaction is 12.
    const batch = new KafkajsBatch('t', '10', { partition: 0, highWatermark: '20', messages: [{ offset: '12' }] });
    expect(batch.firstOffset()).toBe('12');
    expect(batchFetchedOffset(batch)).toBe('10');
  });

  it('the gzip codec is replaced through the process-wide codec table, by createKafka', () => {
    CompressionCodecs[CompressionTypes.GZIP] = undefined as never;
    createKafka({ clientId: 'internals', brokers: ['127.0.0.1:1'] } as KafkaConfig);
    expect(CompressionCodecs[CompressionTypes.GZIP]()).toBe(gzipCodec);
    useGzipCodec();
    expect(CompressionCodecs[CompressionTypes.GZIP]()).toBe(gzipCodec);
  });
});

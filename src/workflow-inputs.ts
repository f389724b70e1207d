/**
 * The inputs of the long-running workflows (sink, crawl, compaction) as the configuration gives them.
 * Pure, in a module of their own so that the schedules and the CLI build them without loading the
 * workflows or kafkajs (src/pipeline.ts re-exports them).
 */
import type { CompactInput, CrawlInput } from '../activities/types';
import type { SinkWorkflowInput } from '../workflows';
import type { TicklakeConfig } from './config';

function symbolBucketsOf(config: TicklakeConfig): { symbolBuckets?: number } {
  return config.lake.partitionBy.includes('symbol_bucket') ? { symbolBuckets: config.lake.symbolBuckets } : {};
}

export function sinkInput(config: TicklakeConfig): SinkWorkflowInput {
  return {
    topic: config.kafka.topic,
    groupId: config.sink.groupId,
    bucket: config.lake.bucket,
    prefix: config.lake.prefix,
    table: config.glue.table,
    partitionBy: config.lake.partitionBy,
    ...symbolBucketsOf(config),
    compression: config.sink.compression,
    flushMs: config.sink.flushMs,
    maxRecords: config.sink.maxRecords,
    maxBytes: config.sink.maxBytes,
    crawl: crawlInput(config),
  };
}

export function crawlInput(config: TicklakeConfig): CrawlInput {
  return {
    bucket: config.lake.bucket,
    prefix: config.lake.prefix,
    database: config.glue.database,
    table: config.glue.table,
    partitionBy: config.lake.partitionBy,
    ...symbolBucketsOf(config),
    ...(config.crawler.mode === 'managed'
      ? { mode: 'managed' as const, managedCrawler: { name: config.crawler.name, role: config.crawler.role! } }
      : {}),
  };
}

export function compactInput(config: TicklakeConfig): CompactInput {
  return {
    bucket: config.lake.bucket,
    prefix: config.lake.prefix,
    curatedPrefix: config.compact.curatedPrefix,
    database: config.glue.database,
    table: config.glue.table,
    partitionBy: config.lake.partitionBy,
    ...symbolBucketsOf(config),
    quietMs: config.compact.quietMs,
    retentionMs: config.compact.retentionMs,
  };
}

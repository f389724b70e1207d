/** Builds every activity from injected clients (one of each per worker process). */
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../src/adapters/aws';
import type { ProducerPool } from '../src/replay/producer-pool';
import type { PipelineMetrics } from '../src/metrics';
import { createCompactActivities } from './compact';
import { createCrawlActivities } from './crawl';
import { createProduceActivities } from './produce';
import { createQueryActivities } from './query';
import { createSinkActivities, type SinkDeps } from './sink';

export interface ActivityDeps {
  kafka: Kafka;
  producers: ProducerPool;
  aws: AwsClients;
  /** Directory for the query engine's object cache. */
  queryCacheDir: string;
  /** Scratch space of the compaction's windows. Default: the system's temporary directory. */
  compactWorkDir?: string;
  /** Local engine: the cache's bound in bytes and DuckDB's memory limit. Defaults in src/query/duckdb-engine.ts. */
  queryCacheMaxBytes?: number;
  queryMemoryLimit?: string;
  metrics?: PipelineMetrics;
  /**
   * How the sink announces new lake partitions to the table's crawl workflow (the worker binds
   * `notifyNewPartitions` of src/pipeline.ts to its client). Without it the sink sends no notices and
   * the crawl finds the partitions on its next run.
   */
  notifyPartitions?: SinkDeps['notifyPartitions'];
}

/**
 * Every activity of ticklake, built from the worker's clients: `produceTicks` (replay), `sinkToLake`
 * (sink), `crawlLake`, `registerPartitions`, `runManagedCrawler` (crawl), `planCompaction`,
 * `compactPartition`, `compactPartitions`, `commitCompaction`, `applyCuratedCatalog`, `expireRaw`,
 * `compactSummary` (compaction) and `runQuery` (query).
 * Workflows import the result's type only (`proxyActivities<Activities>`); tests build the activities
 * with their own clients.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createProduceActivities({ kafka: deps.kafka, producers: deps.producers, metrics: deps.metrics }),
    ...createSinkActivities({
      kafka: deps.kafka,
      s3: deps.aws.s3,
      glue: deps.aws.glue,
      notifyPartitions: deps.notifyPartitions,
      metrics: deps.metrics,
    }),
    ...createCrawlActivities({ s3: deps.aws.s3, glue: deps.aws.glue }),
    ...createCompactActivities({ s3: deps.aws.s3, glue: deps.aws.glue, workDir: deps.compactWorkDir }),
    ...createQueryActivities({
      s3: deps.aws.s3,
      glue: deps.aws.glue,
      athena: deps.aws.athena,
      cacheDir: deps.queryCacheDir,
      cacheMaxBytes: deps.queryCacheMaxBytes,
      memoryLimit: deps.queryMemoryLimit,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type * from './types';

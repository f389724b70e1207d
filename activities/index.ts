/** Builds every activity from injected clients (one of each per worker process). */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../src/adapters/aws';
import type { ProducerPool } from '../src/replay/producer-pool';
import type { PipelineMetrics } from '../src/metrics';
import { createCrawlActivities } from './crawl';
import { createProduceActivities } from './produce';
import { createProgressReporter, type ProgressReporter } from './progress';
import { createQueryActivities } from './query';
import { createSinkActivities } from './sink';

export interface ActivityDeps {
  kafka: Kafka;
  producers: ProducerPool;
  aws: AwsClients;
  temporal: () => Promise<Client>;
  /** Directory for the query engine's object cache. */
  queryCacheDir: string;
  /** Local engine: the cache's bound in bytes and DuckDB's memory limit. Defaults in src/query/duckdb-engine.ts. */
  queryCacheMaxBytes?: number;
  queryMemoryLimit?: string;
  metrics?: PipelineMetrics;
  /** How activities report progress to their workflows; by default signals through `temporal`. */
  reporter?: ProgressReporter;
}

export function createActivities(deps: ActivityDeps) {
  const reporter = deps.reporter ?? createProgressReporter(deps.temporal);
  return {
    ...createProduceActivities({ kafka: deps.kafka, producers: deps.producers, reporter, metrics: deps.metrics }),
    ...createSinkActivities({
      kafka: deps.kafka,
      s3: deps.aws.s3,
      reporter,
      temporal: deps.temporal,
      metrics: deps.metrics,
    }),
    ...createCrawlActivities({ s3: deps.aws.s3, glue: deps.aws.glue }),
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

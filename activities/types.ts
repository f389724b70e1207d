/** Inputs and results of the activities; shared with workflows as types only. */
import type { ReplaySpeed } from '../src/replay/pacing';
import type { Compression } from '../src/lake-layout';

export interface ProduceInput {
  /** Stable id of the replay; the Kafka transactional id and the position key derive from it. */
  replayId: string;
  file: string;
  topic: string;
  dlqTopic: string;
  positionsTopic: string;
  speed: ReplaySpeed;
  /** Replay again from the top when the file ends (an endless feed). */
  loop: boolean;
  /** Rows per Kafka transaction at full speed. Default 5,000. */
  batchSize?: number;
  /** Workflow that receives progress signals; absent for a bare activity call. */
  progressWorkflowId?: string;
}

export interface ReplayProgress {
  rowsRead: number;
  produced: number;
  rejected: number;
  /** Line number of the last row committed to Kafka. */
  line: number;
  pass: number;
  /** Rows per second over the last reporting interval. */
  rate: number;
  done: boolean;
  updatedAt: string;
}

export interface SinkInput {
  topic: string;
  groupId: string;
  bucket: string;
  prefix: string;
  table: string;
  partitionBy: string[];
  compression: Compression;
  /** Freshness bound in ms: a record is in a durable object at most this long after receipt. */
  flushMs: number;
  maxRecords: number;
  maxBytes: number;
  /** Messages larger than this go to the dead-letter prefix. Default 1 MiB. */
  maxMessageBytes?: number;
  progressWorkflowId?: string;
}

export interface PartitionStatus {
  partition: number;
  committed: string;
  position: string;
  highWatermark: string;
  lag: string;
}

export interface SinkProgress {
  records: number;
  deadLetters: number;
  bytes: number;
  files: number;
  flushes: number;
  lastFlushAt?: string;
  partitions: PartitionStatus[];
  updatedAt: string;
}

export interface CrawlInput {
  bucket: string;
  prefix: string;
  database: string;
  table: string;
  partitionBy: string[];
}

export interface CrawlResult {
  database: string;
  table: string;
  tableCreated: boolean;
  columns: { name: string; type: string }[];
  partitionsFound: number;
  partitionsAdded: number;
  objectsRead: number;
  drift: string[];
}

export interface QueryInput {
  sql: string;
  params?: (string | number | boolean | null)[];
  database: string;
  engine: 'duckdb' | 'athena';
  maxRows: number;
  bucket: string;
  /** Athena only. */
  workgroup?: string;
  outputLocation?: string;
}

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: (string | number | boolean | null)[][];
  truncated: boolean;
  rowCount: number;
  stats: { engineMs: number; objectsDownloaded: number; objectsCached: number; bytesScanned?: number };
  resultLocation?: string;
}

/**
 * One typed, validated configuration, read once at start from environment variables (and `.env`).
 *
 * Two profiles: `local` (the default) points every client at the services that
 * `npm run services -- up` starts on 127.0.0.1; `aws` sets no endpoint, so the AWS SDK talks to
 * real AWS with the default credential chain. Any single endpoint can still be overridden.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { PARTITION_COLUMNS } from './lake-layout';
import { REPO_ROOT } from './repo-root';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export { REPO_ROOT };

/**
 * Local service ports; docker-compose.yml names the same. TICKLAKE_PORT_OFFSET shifts them all, so a
 * second stack (a chaos run, another checkout) can run beside the first.
 */
export function localPorts(offset = portOffset(process.env)) {
  return {
    temporal: 7233 + offset,
    temporalUi: 8233 + offset,
    kafka: 9092 + offset,
    kafkaController: 9093 + offset,
    s3: 9000 + offset,
    moto: 5000 + offset,
    metrics: 9464 + offset,
  } as const;
}

function portOffset(env: NodeJS.ProcessEnv): number {
  const raw = env.TICKLAKE_PORT_OFFSET;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 50_000) {
    throw new ConfigError('TICKLAKE_PORT_OFFSET must be a whole number from 0 to 50000');
  }
  return n;
}

export const LOCAL_PORTS = localPorts();

/** Static credentials of the local S3 server (versitygw root user) and of moto. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'ticklake', secretAccessKey: 'ticklake-secret' } as const;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
/** A duration such as '0s', '90s', '10m', '1h' or '7d'. */
const duration = (name: string) =>
  z.string().regex(DURATION, `${name} must be a duration such as '30s', '10m', '1h' or '7d'`);

/** '10m' -> 600000. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new ConfigError(`'${text}' is not a duration such as '30s', '10m', '1h' or '7d'`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]]);
}

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be > 0`);
const url = (name: string) => z.url({ error: `${name} must be a URL such as http://127.0.0.1:9000` });

const envSchema = z.object({
  TICKLAKE_PROFILE: z.enum(['local', 'aws'], { error: "TICKLAKE_PROFILE must be 'local' or 'aws'" }).default('local'),
  TICKLAKE_DATA_DIR: z.string().optional(),
  TICKLAKE_CACHE_DIR: z.string().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_TLS_CA: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TICKLAKE_TASK_QUEUE: z.string().min(1).default('ticklake'),
  KAFKA_BROKERS: z.string().optional(),
  KAFKA_CLIENT_ID: z.string().default('ticklake'),
  KAFKA_TOPIC: z.string().min(1).default('ticks'),
  KAFKA_DLQ_TOPIC: z.string().min(1).default('ticks.dlq'),
  KAFKA_POSITIONS_TOPIC: z.string().min(1).default('ticklake.replay-positions'),
  KAFKA_PARTITIONS: positiveInt('KAFKA_PARTITIONS').default(4),
  KAFKA_REPLICATION_FACTOR: positiveInt('KAFKA_REPLICATION_FACTOR').default(1),
  KAFKA_SSL: bool.default(false),
  KAFKA_SASL_MECHANISM: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.toLowerCase() : v),
      z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'aws'], {
        error: "KAFKA_SASL_MECHANISM must be 'plain', 'scram-sha-256' or 'scram-sha-512'",
      }),
    )
    .optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  AWS_REGION: z.string().default('us-east-1'),
  S3_ENDPOINT: url('S3_ENDPOINT').optional(),
  LAKE_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'LAKE_BUCKET must be a valid S3 bucket name (lowercase, 3-63 chars)')
    .default('ticklake'),
  LAKE_PREFIX: z.string().default('lake/'),
  LAKE_PARTITION_BY: z.string().default('year,symbol_bucket'),
  LAKE_SYMBOL_BUCKETS: positiveInt('LAKE_SYMBOL_BUCKETS')
    .max(1024, 'LAKE_SYMBOL_BUCKETS must be at most 1024')
    .optional(),
  GLUE_ENDPOINT: url('GLUE_ENDPOINT').optional(),
  GLUE_DATABASE: z
    .string()
    .regex(/^[a-z0-9_]+$/, 'GLUE_DATABASE must be lowercase letters, digits and _')
    .default('ticklake'),
  GLUE_TABLE: z
    .string()
    .regex(/^[a-z0-9_]+$/, 'GLUE_TABLE must be lowercase letters, digits and _')
    .default('ticks'),
  ATHENA_ENDPOINT: url('ATHENA_ENDPOINT').optional(),
  ATHENA_WORKGROUP: z.string().default('primary'),
  ATHENA_OUTPUT_LOCATION: z.string().optional(),
  QUERY_ENGINE: z.enum(['duckdb', 'athena'], { error: "QUERY_ENGINE must be 'duckdb' or 'athena'" }).optional(),
  QUERY_MAX_ROWS: positiveInt('QUERY_MAX_ROWS').default(1000),
  QUERY_MAX_BYTES: positiveInt('QUERY_MAX_BYTES')
    .max(1024 * 1024, 'QUERY_MAX_BYTES must be at most 1048576 (1 MiB)')
    .default(512 * 1024),
  QUERY_ALLOW_WRITES: bool.default(false),
  QUERY_CACHE_MAX_MB: positiveInt('QUERY_CACHE_MAX_MB').default(4096),
  QUERY_MEMORY_LIMIT: z
    .string()
    .regex(
      /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i,
      "QUERY_MEMORY_LIMIT must be a size such as '1GB' or '512MiB'",
    )
    .default('512MB'),
  SINK_GROUP_ID: z.string().default('ticklake-sink'),
  SINK_FLUSH_MS: positiveInt('SINK_FLUSH_MS').default(1000),
  SINK_MAX_RECORDS: positiveInt('SINK_MAX_RECORDS').default(200_000),
  SINK_MAX_BYTES: positiveInt('SINK_MAX_BYTES').default(64 * 1024 * 1024),
  SINK_COMPRESSION: z
    .enum(['none', 'gzip', 'zstd'], { error: "SINK_COMPRESSION must be 'none', 'gzip' or 'zstd'" })
    .default('gzip'),
  CRAWLER_MODE: z.enum(['own', 'managed'], { error: "CRAWLER_MODE must be 'own' or 'managed'" }).default('own'),
  GLUE_CRAWLER_ROLE: z.string().optional(),
  GLUE_CRAWLER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,255}$/, 'GLUE_CRAWLER_NAME must be 1-255 letters, digits, _ . or -')
    .optional(),
  CRAWL_SCHEDULE_EVERY: z
    .string()
    .regex(
      /^\d+(\.\d+)?\s*(ms|s|m|h|d|seconds?|minutes?|hours?|days?)$/,
      "CRAWL_SCHEDULE_EVERY must be a duration such as '30s', '5m' or '1h'",
    )
    .default('5m'),
  CURATED_PREFIX: z.string().default('curated/'),
  COMPACT_EVERY: duration('COMPACT_EVERY').default('1h'),
  COMPACT_QUIET: duration('COMPACT_QUIET').default('10m'),
  RAW_RETENTION: duration('RAW_RETENTION').default('7d'),
  TICKLAKE_PORT_OFFSET: z.string().optional(),
  TICKLAKE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
});

export interface TemporalConfig {
  /** host:port of the Temporal frontend. Default 127.0.0.1:7233. */
  address: string;
  namespace: string;
  taskQueue: string;
  /** mTLS client certificate and key (Temporal Cloud); absent for the local dev server. */
  tls?: { certPath: string; keyPath: string; caPath?: string };
  apiKey?: string;
}

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  topic: string;
  dlqTopic: string;
  /** Compacted topic holding each replay's committed source position (written in the same transaction). */
  positionsTopic: string;
  partitions: number;
  replicationFactor: number;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' | 'aws'; username: string; password: string };
}

export interface AwsEndpoints {
  region: string;
  /** Only set for a local or custom endpoint; absent means real AWS. */
  s3Endpoint?: string;
  glueEndpoint?: string;
  athenaEndpoint?: string;
  /** Static credentials for local servers; absent means the default AWS credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface LakeConfig {
  bucket: string;
  /** Key prefix of the lake, always ending in '/'. Default 'lake/'. */
  prefix: string;
  /** Hive partition columns, in order (LAKE_PARTITION_BY). Default ['year', 'symbol_bucket']. */
  partitionBy: string[];
  /**
   * Buckets of the `symbol_bucket` partition column (LAKE_SYMBOL_BUCKETS). Default: the topic's
   * partition count (KAFKA_PARTITIONS), so that each Kafka partition feeds one bucket.
   */
  symbolBuckets: number;
}

export interface CrawlerConfig {
  /** 'own' (default): ticklake's incremental crawler. 'managed': an AWS Glue crawler (CRAWLER_MODE). */
  mode: 'own' | 'managed';
  /** Managed mode: IAM role the Glue crawler runs as (GLUE_CRAWLER_ROLE); required there. */
  role?: string;
  /** Managed mode: crawler name (GLUE_CRAWLER_NAME). Default `ticklake-<database>-<table>`. */
  name: string;
  /** Interval of the scheduled recrawl (CRAWL_SCHEDULE_EVERY), e.g. '5m'. Default '5m'. */
  scheduleEvery: string;
}

export interface TicklakeConfig {
  profile: 'local' | 'aws';
  dataDir: string;
  cacheDir: string;
  temporal: TemporalConfig;
  kafka: KafkaConfig;
  aws: AwsEndpoints;
  lake: LakeConfig;
  glue: { database: string; table: string };
  athena: { workgroup: string; outputLocation?: string };
  query: {
    engine: 'duckdb' | 'athena';
    /** Rows returned inline at most. Default 1,000. */
    maxRows: number;
    /** Bytes of JSON returned inline at most. Default 512 KiB, at most 1 MiB. */
    maxBytes: number;
    /** Run writes and DDL too. Default false. */
    allowWrites: boolean;
    /** Local engine: bytes of Parquet copies kept in `<dataDir>/query-cache` at most (QUERY_CACHE_MAX_MB, default 4096 MB). */
    cacheMaxBytes: number;
    /** Local engine: DuckDB's memory limit (QUERY_MEMORY_LIMIT, default '512MB'); it spills to disk beyond it. */
    memoryLimit: string;
  };
  crawler: CrawlerConfig;
  compact: {
    /** Key prefix of the curated Parquet zone in the lake bucket (CURATED_PREFIX). Default 'curated/'. */
    curatedPrefix: string;
    /** Interval of the compaction schedule (COMPACT_EVERY). Default '1h'. */
    every: string;
    /** A cut is compacted once written at least this long ago (COMPACT_QUIET, ms). Default 10 minutes. */
    quietMs: number;
    /** Raw objects kept after their window is compacted (RAW_RETENTION, ms). Default 7 days. */
    retentionMs: number;
  };
  sink: {
    groupId: string;
    /** Freshness bound: a record is in a durable object at most this many ms after receipt. */
    flushMs: number;
    maxRecords: number;
    maxBytes: number;
    compression: 'none' | 'gzip' | 'zstd';
  };
  metricsPort: number;
}

/** Builds the configuration from an environment (default: process.env plus `.env`). */
export function loadConfig(env: NodeJS.ProcessEnv = readEnv()): TicklakeConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const local = e.TICKLAKE_PROFILE === 'local';
  const ports = localPorts(portOffset(env));
  const localHttp = (port: number) => (local ? `http://127.0.0.1:${port}` : undefined);
  checkKafkaSecurity(e);
  checkTemporalConnection(e);
  if (!local) checkAwsProfile(env);
  if (
    e.ATHENA_OUTPUT_LOCATION !== undefined &&
    !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(e.ATHENA_OUTPUT_LOCATION)
  ) {
    throw new ConfigError('ATHENA_OUTPUT_LOCATION must be an s3:// URL such as s3://my-bucket/athena-results/');
  }
  const prefix = e.LAKE_PREFIX === '' ? '' : e.LAKE_PREFIX.replace(/^\/+/, '').replace(/\/*$/, '/');
  const partitionBy = e.LAKE_PARTITION_BY.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of partitionBy) {
    if (!(PARTITION_COLUMNS as readonly string[]).includes(p)) {
      throw new ConfigError(`LAKE_PARTITION_BY must list columns of ${PARTITION_COLUMNS.join(', ')}; got '${p}'`);
    }
  }
  if (new Set(partitionBy).size !== partitionBy.length) {
    throw new ConfigError(`LAKE_PARTITION_BY names a column twice: '${e.LAKE_PARTITION_BY}'`);
  }
  if (e.CRAWLER_MODE === 'managed' && !e.GLUE_CRAWLER_ROLE) {
    throw new ConfigError(
      'CRAWLER_MODE=managed needs GLUE_CRAWLER_ROLE: the IAM role (ARN or name) the Glue crawler runs as',
    );
  }
  const dataDir = path.resolve(e.TICKLAKE_DATA_DIR ?? path.join(REPO_ROOT, '.data'));
  return {
    profile: e.TICKLAKE_PROFILE,
    dataDir,
    cacheDir: path.resolve(e.TICKLAKE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'ticklake')),
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? `127.0.0.1:${ports.temporal}`,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TICKLAKE_TASK_QUEUE,
      tls: e.TEMPORAL_TLS_CERT
        ? { certPath: e.TEMPORAL_TLS_CERT, keyPath: e.TEMPORAL_TLS_KEY!, caPath: e.TEMPORAL_TLS_CA }
        : undefined,
      apiKey: e.TEMPORAL_API_KEY,
    },
    kafka: {
      brokers: (e.KAFKA_BROKERS ?? `127.0.0.1:${ports.kafka}`)
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
      clientId: e.KAFKA_CLIENT_ID,
      topic: e.KAFKA_TOPIC,
      dlqTopic: e.KAFKA_DLQ_TOPIC,
      positionsTopic: e.KAFKA_POSITIONS_TOPIC,
      partitions: e.KAFKA_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
      ssl: e.KAFKA_SSL,
      sasl: e.KAFKA_SASL_MECHANISM
        ? {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME ?? '',
            password: e.KAFKA_SASL_PASSWORD ?? '',
          }
        : undefined,
    },
    aws: {
      region: e.AWS_REGION,
      s3Endpoint: e.S3_ENDPOINT ?? localHttp(ports.s3),
      glueEndpoint: e.GLUE_ENDPOINT ?? localHttp(ports.moto),
      athenaEndpoint: e.ATHENA_ENDPOINT ?? localHttp(ports.moto),
      credentials: local ? { ...LOCAL_CREDENTIALS } : undefined,
    },
    lake: { bucket: e.LAKE_BUCKET, prefix, partitionBy, symbolBuckets: e.LAKE_SYMBOL_BUCKETS ?? e.KAFKA_PARTITIONS },
    glue: { database: e.GLUE_DATABASE, table: e.GLUE_TABLE },
    athena: { workgroup: e.ATHENA_WORKGROUP, outputLocation: e.ATHENA_OUTPUT_LOCATION },
    query: {
      engine: e.QUERY_ENGINE ?? (local ? 'duckdb' : 'athena'),
      maxRows: e.QUERY_MAX_ROWS,
      maxBytes: e.QUERY_MAX_BYTES,
      allowWrites: e.QUERY_ALLOW_WRITES,
      cacheMaxBytes: e.QUERY_CACHE_MAX_MB * 1024 * 1024,
      memoryLimit: e.QUERY_MEMORY_LIMIT,
    },
    crawler: {
      mode: e.CRAWLER_MODE,
      role: e.GLUE_CRAWLER_ROLE,
      name: e.GLUE_CRAWLER_NAME ?? `ticklake-${e.GLUE_DATABASE}-${e.GLUE_TABLE}`,
      scheduleEvery: e.CRAWL_SCHEDULE_EVERY,
    },
    compact: {
      curatedPrefix: e.CURATED_PREFIX === '' ? 'curated/' : e.CURATED_PREFIX.replace(/^\/+/, '').replace(/\/*$/, '/'),
      every: e.COMPACT_EVERY,
      quietMs: durationMs(e.COMPACT_QUIET),
      retentionMs: durationMs(e.RAW_RETENTION),
    },
    sink: {
      groupId: e.SINK_GROUP_ID,
      flushMs: e.SINK_FLUSH_MS,
      maxRecords: e.SINK_MAX_RECORDS,
      maxBytes: e.SINK_MAX_BYTES,
      compression: e.SINK_COMPRESSION,
    },
    metricsPort: e.TICKLAKE_METRICS_PORT ?? ports.metrics,
  };
}

type Env = z.infer<typeof envSchema>;

/** Kafka SSL/SASL: only what kafkajs can really speak, with every credential it needs. */
function checkKafkaSecurity(e: Env): void {
  const mechanism = e.KAFKA_SASL_MECHANISM;
  if (mechanism === 'aws') {
    // kafkajs's 'aws' mechanism is a different protocol from Amazon MSK's IAM authentication
    // (AWS_MSK_IAM, or OAUTHBEARER with a signed token): MSK answers UNSUPPORTED_SASL_MECHANISM.
    throw new ConfigError(
      "KAFKA_SASL_MECHANISM=aws is not supported: kafkajs has no built-in support for Amazon MSK's IAM authentication. " +
        'Turn on SASL/SCRAM on the cluster and set KAFKA_SASL_MECHANISM=scram-sha-512, KAFKA_SASL_USERNAME, ' +
        'KAFKA_SASL_PASSWORD and KAFKA_SSL=true (brokers on port 9096); see docs/aws.md',
    );
  }
  if (mechanism && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
    throw new ConfigError(
      `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (on MSK: the secret associated with the cluster)`,
    );
  }
  if (!mechanism && (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD)) {
    throw new ConfigError(
      'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not: set it (scram-sha-512 for Amazon MSK) or remove them',
    );
  }
  if (mechanism === 'plain' && !e.KAFKA_SSL && e.TICKLAKE_PROFILE === 'aws') {
    throw new ConfigError(
      'KAFKA_SASL_MECHANISM=plain sends the password in clear text: set KAFKA_SSL=true, or use scram-sha-512',
    );
  }
}

/** Temporal: an mTLS pair that can be read, or an API key; Temporal Cloud needs one of them and its namespace. */
function checkTemporalConnection(e: Env): void {
  if (!!e.TEMPORAL_TLS_CERT !== !!e.TEMPORAL_TLS_KEY) {
    throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (mTLS for Temporal Cloud)');
  }
  if (e.TEMPORAL_TLS_CA && !e.TEMPORAL_TLS_CERT) {
    throw new ConfigError(
      'TEMPORAL_TLS_CA is only used with TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS); with TEMPORAL_API_KEY the system CAs verify the server, so leave it unset',
    );
  }
  for (const name of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA'] as const) {
    const file = e[name];
    if (!file) continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      throw new ConfigError(
        `${name}: cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? 'error'}); give the path of a PEM file this user can read`,
      );
    }
  }
  const address = e.TEMPORAL_ADDRESS ?? '';
  const host = address.replace(/:\d+$/, '').toLowerCase();
  if (host.endsWith('.tmprl.cloud') || host.endsWith('.api.temporal.io')) {
    if (!e.TEMPORAL_TLS_CERT && !e.TEMPORAL_API_KEY) {
      throw new ConfigError(
        `TEMPORAL_ADDRESS ${address} is Temporal Cloud: set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS) or TEMPORAL_API_KEY`,
      );
    }
    if (e.TEMPORAL_NAMESPACE === 'default') {
      throw new ConfigError(
        `TEMPORAL_ADDRESS ${address} is Temporal Cloud: set TEMPORAL_NAMESPACE to your namespace id (<name>.<account-id>)`,
      );
    }
  }
}

/** Profile aws: the local defaults (127.0.0.1, bucket 'ticklake') would point at nothing, so ask for the real places. */
function checkAwsProfile(env: NodeJS.ProcessEnv): void {
  const missing = ['TEMPORAL_ADDRESS', 'KAFKA_BROKERS', 'LAKE_BUCKET'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      `TICKLAKE_PROFILE=aws needs ${missing.join(', ')}: their defaults point at the local services; see docs/aws.md`,
    );
  }
}

function readEnv(): NodeJS.ProcessEnv {
  // .env never overrides a variable already set in the environment.
  loadDotenv({ path: path.join(process.cwd(), '.env'), quiet: true });
  return process.env;
}

/**
 * Starting and steering ticklake's workflows from a client: the CLI, `npm start` and tests share
 * these. Workflow ids are business keys, so starting twice attaches to the running workflow.
 */
import path from 'node:path';
import {
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type {
  CompactInput,
  CrawlInput,
  CrawlResult,
  QueryInput,
  QueryResult,
  ReplayProgress,
} from '../activities/types';
// The workflow functions themselves (not names): the compiler checks each start's arguments against
// the workflow's input, and a reader can follow a replay's input from the CLI into its workflow.
import {
  compactWorkflow,
  crawlWorkflow,
  queryWorkflow,
  replayWorkflow,
  sinkWorkflow,
  type ReplayInput,
} from '../workflows';
import { crawlNowUpdate, newPartitionsSignal, type CrawlNowOptions } from '../workflows/definitions';
import type { ReplaySpeed } from './replay/pacing';
import type { ReplayOrder } from './replay/ordered-rows';
import type { TicklakeConfig } from './config';
import { createKafka, ensureTopics, groupLag } from './adapters/kafka';
import { waitFor, WaitTimeoutError } from './concurrency';
import type * as AwsAdapter from './adapters/aws';
import type * as S3Adapter from './adapters/s3';

import { SEARCH_ATTRIBUTES, replayIdFor, workflowIds } from './workflow-ids';
import { compactInput, crawlInput, sinkInput } from './workflow-inputs';

export { SEARCH_ATTRIBUTES, replayIdFor, workflowIds };
export { compactInput, crawlInput, sinkInput };

function attributes(stage: string, extra: Record<string, string>) {
  return {
    searchAttributes: Object.fromEntries(
      Object.entries({ [SEARCH_ATTRIBUTES.stage]: stage, ...extra }).map(([k, v]) => [k, [v]]),
    ),
    memo: { stage, ...extra },
    // Shown in the Web UI's workflow list and on the workflow page.
    staticSummary: [
      stage,
      extra[SEARCH_ATTRIBUTES.source],
      extra[SEARCH_ATTRIBUTES.topic] && `topic ${extra[SEARCH_ATTRIBUTES.topic]}`,
    ]
      .filter(Boolean)
      .join(' · '),
  };
}

/** The bucket count, only for a layout with a `symbol_bucket` column (older inputs stay as they were). */
/**
 * Starts a compaction of the configured table (`compactWorkflow`, id `compact/<database>.<table>`), or
 * attaches to the one running under that id. A scheduled run (`compact/<database>.<table>/scheduled-…`)
 * may run at the same time: the state's generations let only one of them switch.
 */
export async function startCompaction(
  client: Client,
  config: TicklakeConfig,
  overrides: Partial<CompactInput> = {},
): Promise<WorkflowHandle<typeof compactWorkflow>> {
  return client.workflow.start(compactWorkflow, {
    workflowId: workflowIds.compact(config.glue.database, config.glue.table),
    taskQueue: config.temporal.taskQueue,
    args: [{ ...compactInput(config), ...overrides }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    ...attributes('compact', {}),
  });
}

/**
 * Starts the replay of a CSV file into the tick topic (`replayWorkflow`, id `replay/<replay id>`,
 * default replay id: the file name without extension), or attaches to the running one of that id.
 * Steer it with the signals `pauseSignal`/`resumeSignal` and the update `setSpeedUpdate`; read its
 * progress with `replayStatus` (src/progress.ts).
 */
export async function startReplay(
  client: Client,
  config: TicklakeConfig,
  opts: { file: string; replayId?: string; speed?: ReplaySpeed; order?: ReplayOrder; loop?: boolean; paused?: boolean },
): Promise<WorkflowHandle<typeof replayWorkflow>> {
  const file = path.resolve(opts.file);
  const replayId = opts.replayId ?? replayIdFor(file);
  const input: ReplayInput = {
    replayId,
    file,
    topic: config.kafka.topic,
    dlqTopic: config.kafka.dlqTopic,
    positionsTopic: config.kafka.positionsTopic,
    speed: opts.speed,
    order: opts.order,
    loop: opts.loop,
    paused: opts.paused,
  };
  return client.workflow.start(replayWorkflow, {
    workflowId: workflowIds.replay(replayId),
    taskQueue: config.temporal.taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    ...attributes('replay', {
      [SEARCH_ATTRIBUTES.source]: path.basename(file),
      [SEARCH_ATTRIBUTES.topic]: config.kafka.topic,
    }),
  });
}

/**
 * Starts the sink of the configured topic (`sinkWorkflow`, id `sink/<topic>`), or attaches to the
 * running one. Further instances (`instance` 2, 3, ...) are more members of the same consumer group,
 * with ids `sink/<topic>/<instance>`: Kafka shares the partitions among them, so the sink scales out
 * over workers. `notices: false` starts it without partition notices to the crawl workflow
 * (benchmarks that time the catalog's own work). Pause and resume it with `pauseSignal` and
 * `resumeSignal`; read its progress with `sinkStatus` (src/progress.ts).
 */
export async function startSink(
  client: Client,
  config: TicklakeConfig,
  opts: { instance?: number; notices?: boolean } = {},
): Promise<WorkflowHandle<typeof sinkWorkflow>> {
  const instance = opts.instance ?? 1;
  const input = sinkInput(config);
  return client.workflow.start(sinkWorkflow, {
    workflowId: workflowIds.sink(config.kafka.topic) + (instance > 1 ? `/${instance}` : ''),
    taskQueue: config.temporal.taskQueue,
    args: [opts.notices === false ? { ...input, crawl: undefined } : input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    ...attributes('sink', { [SEARCH_ATTRIBUTES.topic]: config.kafka.topic }),
  });
}

/**
 * Runs a crawl and returns its result. Sent as update `crawlNow` with update-with-start to
 * `crawl/<database>.<table>`: a crawl workflow kept alive by sink notices serves it, otherwise one is
 * started for it. `full` rescans the whole table folder.
 */
export async function runCrawl(
  client: Client,
  config: TicklakeConfig,
  opts: CrawlNowOptions = {},
): Promise<CrawlResult> {
  return client.workflow.executeUpdateWithStart(crawlNowUpdate, {
    args: [opts],
    startWorkflowOperation: new WithStartWorkflowOperation(crawlWorkflow, {
      workflowId: workflowIds.crawl(config.glue.database, config.glue.table),
      taskQueue: config.temporal.taskQueue,
      args: [crawlInput(config)],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      ...attributes('crawl', { [SEARCH_ATTRIBUTES.topic]: config.kafka.topic }),
    }),
  });
}

/** How long a crawl workflow started by the sink's notices gathers notices into one registration. */
export const NOTICE_BATCH_MS = 50;

/**
 * Tells the crawl workflow of a table that the sink has written to these lake partitions
 * (`symbol=HSI/year=1987`), or with `buffered` that it holds records for them not written yet:
 * signal-with-start of `crawl/<database>.<table>`, so the partitions are registered within about a
 * second even when no crawl workflow is running.
 */
export async function notifyNewPartitions(
  client: Client,
  args: { taskQueue: string; crawl: CrawlInput; partitions: string[]; buffered?: boolean },
): Promise<void> {
  if (args.partitions.length === 0) return;
  await client.workflow.signalWithStart(crawlWorkflow, {
    workflowId: workflowIds.crawl(args.crawl.database, args.crawl.table),
    taskQueue: args.taskQueue,
    // A crawl workflow started by notices waits 50 ms for more before it registers a batch: the sink
    // announces a partition when it buffers its first record, a flush bound (SINK_FLUSH_MS) ahead of its object.
    args: [{ ...args.crawl, batchMs: NOTICE_BATCH_MS }],
    signal: newPartitionsSignal,
    signalArgs: [{ partitions: args.partitions, ...(args.buffered ? { buffered: true } : {}) }],
    ...attributes('crawl', {}),
  });
}

export interface QueryOptions {
  /** Engine; default QUERY_ENGINE (duckdb locally, athena on the aws profile). */
  engine?: QueryInput['engine'];
  /** Id of the query; the workflow id is `query/<id>`. Default: time-based and random. */
  id?: string;
  /** Glue database; default GLUE_DATABASE. */
  database?: string;
  /** Inline rows at most; default QUERY_MAX_ROWS. */
  maxRows?: number;
  /** Inline bytes of JSON at most; default QUERY_MAX_BYTES. */
  maxBytes?: number;
  /** Run writes and DDL too; default QUERY_ALLOW_WRITES. */
  allowWrites?: boolean;
}

/** The input of a query workflow for a statement, from the configuration and the options. */
export function queryInput(
  config: TicklakeConfig,
  sql: string,
  params: QueryInput['params'] = [],
  opts: QueryOptions = {},
): QueryInput {
  return {
    sql,
    params,
    database: opts.database ?? config.glue.database,
    engine: opts.engine ?? config.query.engine,
    maxRows: opts.maxRows ?? config.query.maxRows,
    maxBytes: opts.maxBytes ?? config.query.maxBytes,
    allowWrites: opts.allowWrites ?? config.query.allowWrites,
    bucket: config.lake.bucket,
    workgroup: config.athena.workgroup,
    outputLocation: config.athena.outputLocation,
    lake: { prefix: config.lake.prefix, table: config.glue.table, partitionBy: config.lake.partitionBy },
  };
}

/** Starts a query workflow; its result is the QueryResult. Cancelling the workflow stops the engine's query. */
export async function startQuery(
  client: Client,
  config: TicklakeConfig,
  sql: string,
  params: QueryInput['params'] = [],
  opts: QueryOptions = {},
): Promise<WorkflowHandle<typeof queryWorkflow>> {
  const id = opts.id ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return client.workflow.start(queryWorkflow, {
    workflowId: workflowIds.query(id),
    taskQueue: config.temporal.taskQueue,
    args: [queryInput(config, sql, params, opts)],
    ...attributes('query', {}),
  });
}

/** Runs one SQL statement through the query workflow and returns its bounded result. */
export async function runQuery(
  client: Client,
  config: TicklakeConfig,
  sql: string,
  params: QueryInput['params'] = [],
  opts: QueryOptions = {},
): Promise<QueryResult> {
  return (await startQuery(client, config, sql, params, opts)).result();
}

/** Creates the topics and (local profile) the bucket when missing. */
export async function prepareInfrastructure(config: TicklakeConfig): Promise<void> {
  const kafka = createKafka(config.kafka, '-setup');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, config.kafka, [config.kafka.topic, config.kafka.dlqTopic, config.kafka.positionsTopic]);
  } finally {
    await admin.disconnect();
  }
  // Required here: the AWS SDK takes a good part of a second to load, which the CLI's commands that only
  // start or ask workflows (status, schedule) would otherwise pay through this module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const s3 = () => (require('./adapters/aws') as typeof AwsAdapter).createAwsClients(config.aws).s3;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureBucket } = require('./adapters/s3') as typeof S3Adapter;
  if (config.profile === 'local') await ensureBucket(s3(), config.lake.bucket);
}

/** Waits until the sink group has committed everything in the topic. */
export async function waitForSinkCaughtUp(config: TicklakeConfig, timeoutMs: number): Promise<void> {
  const kafka = createKafka(config.kafka, '-watch');
  const admin = kafka.admin();
  await admin.connect();
  let total: bigint | undefined;
  try {
    await waitFor(
      'the sink to catch up',
      async () => {
        const lag = await groupLag(admin, config.sink.groupId, config.kafka.topic);
        total = [...lag.values()].reduce((a, b) => a + b, 0n);
        return total === 0n;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new Error(
      total === undefined
        ? `the sink's lag could not be read: ${err.message}`
        : `the sink did not catch up within ${timeoutMs / 1000} s (lag ${total}); see 'npx ticklake status'`,
    );
  } finally {
    await admin.disconnect();
  }
}

export type { ReplayProgress };

/** One worker process hosting every workflow and activity of ticklake. */
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities } from '../activities';
import { createAwsClients } from './adapters/aws';
import { createKafka } from './adapters/kafka';
import { ProducerPool } from './replay/producer-pool';
import { connectClient, connectWorker } from './adapters/temporal';
import type { TicklakeConfig } from './config';
import { createPipelineMetrics, portFree } from './metrics';
import { notifyNewPartitions } from './pipeline';
import { restoreCatalog } from './catalog/restore';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * The workflow code a worker runs. Compiled (dist/src/worker.js): the bundle `npm run build` wrote beside
 * it, so the worker starts without running webpack. From the TypeScript sources (tsx, jest): the sources
 * themselves, bundled at start, so that an edit to a workflow needs no build.
 */
export function workflowCode(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (path.extname(__filename) !== '.js') return { workflowsPath: require.resolve('../workflows') };
  const codePath = path.join(__dirname, '..', 'workflow-bundle.js');
  if (!fs.existsSync(codePath)) {
    throw new Error(`the workflow bundle ${codePath} is missing; run 'npm run build'`);
  }
  return { workflowBundle: { codePath } };
}

/**
 * Starts a worker hosting every workflow (workflows/index.ts) and activity (createActivities) of
 * ticklake on the configured task queue, with one Kafka client, producer pool and set of AWS clients.
 * `overrides` replaces worker options (tests shorten the shutdown grace, benchmarks pin concurrency).
 * The first call in a process installs the Temporal runtime and its Prometheus exporter on
 * `metricsPort`.
 */
export async function startWorker(
  config: TicklakeConfig,
  overrides: Partial<WorkerOptions> = {},
): Promise<RunningWorker> {
  if (!runtimeInstalled) {
    // One runtime per process; its Prometheus exporter serves the SDK's metrics and ours.
    const port = config.metricsPort;
    const exportMetrics = port > 0 && (await portFree(port));
    Runtime.install({
      logger: new DefaultLogger((process.env.TICKLAKE_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN'),
      telemetryOptions: {
        logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
        ...(exportMetrics ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } } : {}),
      },
    });
    if (port > 0 && !exportMetrics) {
      Runtime.instance().logger.warn('metrics port in use; this worker exports no Prometheus metrics', { port });
    }
    runtimeInstalled = true;
  }
  // Before this worker serves a query: a local catalog that lost its tables (moto restarted) gets them back.
  // A failed rebuild must not keep the worker from starting: the next crawl rebuilds the table as well.
  const restored = await restoreCatalog(config).catch((err: unknown) => {
    Runtime.instance().logger.warn('could not rebuild the local Glue catalog from the lake; the next crawl will', {
      error: (err as Error).message ?? String(err),
    });
    return [];
  });
  for (const t of restored) {
    Runtime.instance().logger.warn(
      'the local Glue catalog had lost a table (its services restarted): rebuilt from the lake',
      {
        ...t,
      },
    );
  }
  const connection = await connectWorker(config.temporal);
  let client: Promise<Client> | undefined;
  const temporal = () => (client ??= connectClient(config.temporal));
  const kafka = createKafka(config.kafka);
  const producers = new ProducerPool(config.kafka);
  const activities = createActivities({
    kafka,
    producers,
    aws: createAwsClients(config.aws),
    notifyPartitions: async (notice) => notifyNewPartitions(await temporal(), notice),
    queryCacheDir: path.join(config.dataDir, 'query-cache'),
    compactWorkDir: path.join(config.dataDir, 'compact'),
    queryCacheMaxBytes: config.query.cacheMaxBytes,
    queryMemoryLimit: config.query.memoryLimit,
    metrics: createPipelineMetrics(Runtime.instance().metricMeter),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowCode(),
    activities,
    // Pause reaches long-running activities through heartbeats: keep the throttle short. At 500 ms a
    // pause reaches an activity within about half a second, which keeps the sink's drain well inside
    // its 2 s bound on a busy host; the cost is two heartbeat calls a second per running activity.
    maxHeartbeatThrottleInterval: '500 milliseconds',
    defaultHeartbeatThrottleInterval: '500 milliseconds',
    maxConcurrentActivityTaskExecutions: 20,
    ...overrides,
  });
  const done = worker.run();
  let closing: Promise<void> | undefined;
  return {
    worker,
    done,
    shutdown() {
      closing ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await done;
        await producers.closeAll();
        await connection.close();
        if (client) await (await client).connection.close();
      })();
      return closing;
    },
  };
}

/**
 * Chaos: while the sink drains a file (a backlog first, then a live stream with the 1 s freshness
 * bound), its worker process is killed with SIGKILL three times at random moments, the broker is
 * restarted once and the S3 server is down for 20 s. Afterwards the lake holds every record of the
 * file exactly once: same count per symbol, no duplicate (symbol, trade_date), values identical to
 * the source. During the outage the sink holds a bounded number of records in memory.
 *
 * It restarts services, so it runs on a stack of its own (TICKLAKE_PORT_OFFSET=20000, a temporary
 * data dir), which it starts and stops. The real file (TICKLAKE_REAL_CSV) is used when set.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createAwsClients } from '../../src/adapters/aws';
import { committedOffsets } from '../../src/adapters/kafka';
import { connectClient } from '../../src/adapters/temporal';
import { prepareInfrastructure, sinkInput, waitForSinkCaughtUp, workflowIds } from '../../src/pipeline';
import { uniqueConfig, waitFor } from './support';
import { exited, ownStack, randomMs, sleep } from './own-stack';
import {
  SAMPLE_CSV,
  TickProducer,
  countsBySymbol,
  lakeProblems,
  manifestOverlaps,
  readDeadLetters,
  readLake,
  readManifests,
  sourceRows,
  testKafka,
  toMessage,
} from './sink-support';
import { sinkStatus } from '../../src/progress';

// Every port of the stack stays below Linux's ephemeral range (32768-60999), where an outgoing
// connection may already hold it.
const OFFSET = 20000;
const REAL = process.env.TICKLAKE_REAL_CSV;
const FILE = REAL && fs.existsSync(REAL) ? REAL : SAMPLE_CSV;
/** Seconds over which the live part of the file is produced: about as long as the chaos lasts. */
const LIVE_SECONDS = 150;

const rows = sourceRows(FILE);
const maxRecords = Math.max(50, Math.round(rows.length / 50));
const stack = ownStack('sink-chaos', OFFSET);
const { dataDir, env: stackEnv, services } = stack;
const config = uniqueConfig('sink-chaos', { ...stackEnv, SINK_MAX_RECORDS: String(maxRecords) });
const workerEnv: NodeJS.ProcessEnv = {
  ...stackEnv,
  KAFKA_TOPIC: config.kafka.topic,
  KAFKA_DLQ_TOPIC: config.kafka.dlqTopic,
  KAFKA_POSITIONS_TOPIC: config.kafka.positionsTopic,
  SINK_GROUP_ID: config.sink.groupId,
  SINK_MAX_RECORDS: String(maxRecords),
  LAKE_BUCKET: config.lake.bucket,
  GLUE_DATABASE: config.glue.database,
  TICKLAKE_TASK_QUEUE: config.temporal.taskQueue,
};

const startWorkerProcess = () => stack.startWorker(workerEnv);

describe('sink chaos on its own stack', () => {
  let client: Client | undefined;
  let worker: ChildProcess | undefined;
  let producer: TickProducer | undefined;
  let passed = false;

  beforeAll(async () => {
    await services('up', 'temporal', 'kafka', 's3');
    await prepareInfrastructure(config);
    client = await connectClient(config.temporal);
  }, 300_000);

  afterAll(async () => {
    if (worker) {
      worker.kill('SIGTERM');
      await Promise.race([exited(worker), sleep(15_000)]);
      worker.kill('SIGKILL');
    }
    await producer?.close();
    await client?.connection.close();
    await services('down', 'temporal', 'kafka', 's3').catch((err: unknown) => console.error(String(err)));
    if (passed) fs.rmSync(dataDir, { recursive: true, force: true });
    else console.error(`sink chaos: logs kept in ${dataDir}`);
  }, 180_000);

  it(`keeps every record of ${REAL && fs.existsSync(REAL) ? 'the real file' : 'the sample (TICKLAKE_REAL_CSV not set)'} exactly once through 3 SIGKILLs, a broker restart and 20 s without S3`, async () => {
    const source = path.basename(FILE);
    const messages = rows.map((r) => toMessage(r, source));
    const kafka = testKafka(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    const { s3 } = createAwsClients(config.aws);
    // Sum of the group's committed offsets (the coordinator may be moving after a broker restart: retry).
    const committed = async () => {
      const { total } = await waitFor(
        'the committed offsets',
        async () => {
          let sum = 0n;
          for (const o of (await committedOffsets(admin, config.sink.groupId, config.kafka.topic)).values())
            if (o > 0n) sum += o;
          return { total: sum };
        },
        60_000,
        250,
      );
      return total;
    };
    const events: string[] = [];
    const note = (e: string) => {
      events.push(`${new Date().toISOString()} ${e}`);
      console.log(`sink chaos: ${e}`);
    };
    const resumed = async (what: string): Promise<number> => {
      const since = await committed();
      const started = Date.now();
      await waitFor(what, async () => (await committed()) > since, 120_000, 250);
      return Date.now() - started;
    };

    worker = startWorkerProcess();
    const sink = await client!.workflow.start('sinkWorkflow', {
      workflowId: workflowIds.sink(config.kafka.topic),
      taskQueue: config.temporal.taskQueue,
      // The crawler is not part of this test: no partition notices.
      args: [{ ...sinkInput(config), crawl: undefined }],
    });

    const tp = new TickProducer(kafka, config.kafka.topic, `chaos-${config.kafka.topic}`);
    producer = tp;
    const backlog = Math.floor(rows.length * 0.2);
    await tp.stream(messages.slice(0, backlog), 2000);
    let hurry = false;
    const live = messages.slice(backlog);
    const chunk = Math.max(20, Math.round(live.length / LIVE_SECONDS / 4));
    const producing = (async () => {
      const started = Date.now();
      for (let i = 0; i < live.length; i += chunk) {
        await tp.send(live.slice(i, i + chunk));
        const due = started + ((i + chunk) / live.length) * LIVE_SECONDS * 1000;
        while (!hurry && Date.now() < due) await sleep(Math.min(100, due - Date.now()));
      }
    })();

    const kill = async (n: number) => {
      await sleep(randomMs(300, 3000));
      worker!.kill('SIGKILL');
      await exited(worker!);
      note(`kill ${n}: worker SIGKILLed at committed=${await committed()}`);
      worker = startWorkerProcess();
      const ms = await resumed(`the sink to resume after kill ${n}`);
      note(`kill ${n}: sink committing again after ${ms} ms`);
      // Temporal notices the dead worker after the 20 s heartbeat timeout; the retry then joins the group.
      expect(ms).toBeLessThan(60_000);
    };

    note(`file ${source}: ${rows.length} rows, SINK_MAX_RECORDS=${maxRecords}`);
    await resumed('the sink to commit its first flush');
    await kill(1);
    await kill(2);

    await sleep(randomMs(300, 3000));
    await tp.hold();
    note('broker restart');
    await services('restart', 'kafka');
    tp.resume();
    note(`broker back; sink committing again after ${await resumed('the sink to resume after the broker restart')} ms`);

    await sleep(randomMs(300, 2000));
    await services('down', 's3');
    const outageStarted = Date.now();
    note('S3 down');
    let maxBuffered = 0;
    let lagAtEnd = 0n;
    while (Date.now() - outageStarted < 20_000) {
      const st = await sinkStatus(sink);
      maxBuffered = Math.max(
        maxBuffered,
        st.partitions.reduce((n, p) => n + p.buffered, 0),
      );
      lagAtEnd = st.partitions.reduce((n, p) => n + BigInt(p.lag), 0n);
      await sleep(500);
    }
    await services('up', 's3');
    note(`S3 back after ${Date.now() - outageStarted} ms; at most ${maxBuffered} records buffered, lag ${lagAtEnd}`);
    // Backpressure: a full partition stops fetching, so memory holds at most a cut and a fetch per partition.
    expect(maxBuffered).toBeLessThanOrEqual(config.kafka.partitions * 2 * maxRecords + 5_000);
    note(`sink committing again after ${await resumed('the sink to resume after the S3 outage')} ms`);

    await kill(3);
    hurry = true;
    await producing;
    note(`all ${tp.produced} records produced`);
    await waitForSinkCaughtUp(config, 240_000);
    note('sink caught up');

    const lake = await readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table);
    expect(countsBySymbol(lake.map((l) => l.record))).toEqual(countsBySymbol(rows.map((r) => r.tick)));
    expect(lakeProblems(rows, lake, source)).toEqual([]);
    const manifests = await readManifests(
      s3,
      config.lake.bucket,
      config.lake.prefix,
      config.sink.groupId,
      config.kafka.topic,
    );
    expect(manifestOverlaps(manifests)).toEqual([]);
    expect(await readDeadLetters(s3, config.lake.bucket, config.lake.prefix)).toEqual([]);

    // Each kill cost the activity an attempt: Temporal noticed every dead worker.
    const described = await sink.describe();
    const attempt = (described.raw.pendingActivities ?? [])[0]?.attempt ?? 1;
    expect(attempt).toBeGreaterThanOrEqual(4);
    // The counters survive the kills: each record counted once (heartbeat details plus the manifests
    // a dead attempt wrote after its last heartbeat).
    const status = await waitFor(
      'the status to count every record',
      async () => {
        const s = await sinkStatus(sink);
        return s.records === rows.length && s.partitions.every((p) => p.lag === '0') && s;
      },
      30_000,
    ).catch(async (err: unknown) => {
      note(`status: ${JSON.stringify(await sinkStatus(sink))}`);
      throw err;
    });
    note(
      `activity attempt ${attempt}; records=${status.records} rewritten=${status.rewrittenRecords} files=${status.files}`,
    );

    await admin.disconnect();
    await sink.terminate('test over');
    passed = true;
  }, 900_000);
});

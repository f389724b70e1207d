/**
 * `npx ticklake …` (also `npm run cli -- …`): drives ticklake's workflows on Temporal, and the local
 * services. Every command takes --json; errors print one line and exit non-zero (--verbose for more).
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { REPO_ROOT } from '../repo-root';
import { parseSpeed, describeSpeed } from '../replay/pacing';
import { replayIdFor, workflowIds } from '../workflow-ids';
// Heavy modules (Temporal's client, the AWS SDK, kafkajs, the configuration) load on first use: --help needs none.
import {
  connectClient,
  createAwsClients,
  createCrawlSchedule,
  createKafka,
  crawlScheduleId,
  deleteCrawlSchedule,
  describeCrawlSchedule,
  compactReport,
  ensureCompactSchedule,
  ensureCrawlSchedule,
  ensureServices,
  groupLag,
  listCrawlSchedules,
  loadConfig,
  parseServiceNames,
  pauseCrawlSchedule,
  prepareInfrastructure,
  printQueryResult,
  runCrawl,
  runWorker,
  serviceStatus,
  setCrawlScheduleInterval,
  startQuery,
  startReplay,
  startSink,
  stopServices,
  triggerCrawlSchedule,
  unpauseCrawlSchedule,
} from './lazy';
import {
  crawlStatusQuery,
  pauseSignal,
  replayProgressQuery,
  resumeSignal,
  sinkStatusQuery,
  type CrawlStatus,
  type ReplayStatus,
  type SinkStatus,
} from '../../workflows/definitions';
import type { ReplayProgress } from '../../activities/types';
import { errorMessage, fields, print, table, type OutputOptions } from './output';
import { ask, awaitingWorker, livePollers, NoWorkerError, START_A_WORKER } from './worker-presence';
import { replayStatus, sinkStatus, workflowHealth } from '../progress';
import type { CrawlScheduleInfo } from '../schedules';
import { compactLine, registerCompactCommands } from './compact';
import { registerDlqCommand } from './dlq';
import { registerDashboardCommand } from './dashboard';
import { registerReplayCommands, replayHandle, setReplaySpeed, steerReplay } from './replay-commands';
import { describeCommands } from './descriptions';
import { brokerLag, brokerLagText } from './broker-lag';

interface Globals extends OutputOptions {
  config: TicklakeConfig;
}

let clientPromise: Promise<Client> | undefined;
function client(g: Globals): Promise<Client> {
  return (clientPromise ??= connectClient(g.config.temporal));
}

function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals<{ json?: boolean; verbose?: boolean }>();
  return { json: o.json, verbose: o.verbose, config: loadConfig() };
}

/** Warns (on stderr) when no worker polls the task queue: workflows would wait forever. Returns whether one polls. */
async function warnWithoutWorker(g: Globals): Promise<boolean> {
  const c = await client(g);
  const res = await c.workflowService.describeTaskQueue({
    namespace: g.config.temporal.namespace,
    taskQueue: { name: g.config.temporal.taskQueue },
    taskQueueType: 1,
  });
  if (livePollers(res.pollers, Date.now()) === 0) {
    console.error(`note: no worker polls task queue '${g.config.temporal.taskQueue}'; ${START_A_WORKER}`);
    return false;
  }
  return true;
}

/**
 * How a workflow ended, or 'stuck' when it runs on a failing workflow task; undefined while it runs
 * well. `failure` is the reason a failed or stuck one gives.
 */
async function closedState(h: WorkflowHandle): Promise<{ state: string; failure?: string } | undefined> {
  const health = await workflowHealth(h);
  return health.state === 'running' ? undefined : health;
}

/** The query's answer, or (for a workflow that failed or is stuck, which cannot answer) nothing. */
async function answerUnlessBroken<S>(
  closed: { state: string } | undefined,
  asking: Promise<S>,
): Promise<S | undefined> {
  try {
    return await asking;
  } catch (err) {
    if (closed && closed.state !== 'completed') return undefined;
    throw err;
  }
}

/**
 * Watches a replay just started for up to `ms`: until it reads its first rows, or ends. Returns the
 * failure of a replay that could not start (a missing file, a header of another schema), so that
 * `replay start` reports it at once instead of "started".
 */
async function startFailure(h: WorkflowHandle, taskQueue: string, ms = 3_000): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const closed = await closedState(h).catch(() => undefined);
    if (closed) return closed.failure;
    const p = await replayStatus(h, (w) =>
      ask(w, replayProgressQuery, taskQueue, Math.max(500, deadline - Date.now())),
    ).catch(() => undefined);
    if (p && p.rowsRead > 0) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** A replay's report; for one that failed or is stuck, only how and why (it cannot answer its query). */
type ReplayReport = Partial<Omit<ReplayStatus, 'state'>> & { state: string; failure?: string };

/** The rows of a report that has them (a stuck or failed workflow's report holds state and failure only). */
function present(rows: [string, string | number | undefined][]): [string, string | number][] {
  return rows.filter((r): r is [string, string | number] => r[1] !== undefined);
}

function replayRows(s: ReplayReport): [string, string | number][] {
  return present([
    ['state', s.state],
    ['failure', s.failure],
    ['file', s.file],
    ['speed', s.speed && describeSpeed(s.speed)],
    ['rows read', s.rowsRead],
    ['produced', s.produced],
    ['rejected', s.rejected],
    ...rejectedRows(s),
    ['position (line)', s.line],
    ['pass', s.pass],
    ['rate (rows/s)', s.rate],
    ['updated', s.updatedAt],
  ]);
}

/** The last reasons of a replay that rejected rows, and where all of them are. */
function rejectedRows(s: Partial<Pick<ReplayStatus, 'rejected' | 'lastRejected'>>): [string, string][] {
  if (!s.rejected) return [];
  const last = (s.lastRejected ?? []).map((r) => `line ${r.line}: ${r.reason}`);
  return [
    ...(last.length > 0 ? [['last rejected', last.join('\n')] as [string, string]] : []),
    ['dead letters', 'npx ticklake dlq --replay <id> lists every rejected row'],
  ];
}

/** The sink's own report; for a sink workflow that has ended or is stuck, its state says so. */
type SinkReport = Partial<Omit<SinkStatus, 'state'>> & { state: string; failure?: string };

async function sinkReport(h: WorkflowHandle, taskQueue: string): Promise<SinkReport> {
  const closed = await closedState(h);
  const s = await answerUnlessBroken(
    closed,
    sinkStatus(h, (w) => ask(w, sinkStatusQuery, taskQueue)),
  );
  return closed ? { ...s, state: closed.state, failure: closed.failure } : s!;
}

function sinkRows(s: SinkReport): string {
  const head = fields(
    present([
      ['state', s.state],
      ['failure', s.failure],
      ['topic', s.topic],
      ['records written', s.records],
      ['dead letters', s.deadLetters],
      ['bytes written', s.bytes],
      ['files written', s.files],
      ['last flush', s.records === undefined ? undefined : (s.lastFlushAt ?? 'never')],
    ]),
  );
  if (!s.partitions) return head;
  const parts = table(
    ['partition', 'committed', 'high watermark', 'lag'],
    // Kafka's -1 is "no offset committed yet" (an empty partition, or one not fetched since the join).
    s.partitions.map((p) => [p.partition, p.committed === '-1' ? 'none' : p.committed, p.highWatermark, p.lag]),
  );
  return `${head}\n${parts}`;
}

/** One line on the crawl workflow: what it last did when it is running, how it ended otherwise. */
function crawlLine(workflow: { status: string; closed?: string } | undefined, crawl: CrawlStatus | undefined): string {
  if (!workflow) return 'crawl: never ran';
  if (!crawl) return `crawl: ${workflow.status.toLowerCase()}${workflow.closed ? ` at ${workflow.closed}` : ''}`;
  const last = crawl.lastCrawl;
  const parts = [
    last
      ? `last crawl (${last.scan}): ${last.partitionsFound} partitions seen, ${last.partitionsAdded} added, ${last.durationMs} ms`
      : 'no crawl yet',
    `${crawl.partitionsRegistered} partitions registered from sink notices`,
  ];
  if (crawl.pendingPartitions > 0) parts.push(`${crawl.pendingPartitions} waiting`);
  if (crawl.lastError) parts.push(`last error: ${crawl.lastError}`);
  return `crawl: running (${crawl.crawls} crawls); ${parts.join('; ')}`;
}

async function followReplay(handle: WorkflowHandle, g: Globals, polled: boolean): Promise<ReplayProgress> {
  const bar =
    g.json || !process.stderr.isTTY
      ? undefined
      : new SingleBar(
          { format: 'replay {bar} {value} rows | {rate} rows/s | rejected {rejected}', stream: process.stderr },
          Presets.shades_classic,
        );
  bar?.start(1, 0, { rate: 0, rejected: 0 });
  // One query at a time: without a worker, each waits for its deadline.
  let asking = false;
  const timer = setInterval(() => {
    if (!bar || asking) return;
    asking = true;
    replayStatus(handle, (w) => ask(w, replayProgressQuery, g.config.temporal.taskQueue))
      .then((p) => {
        bar.setTotal(Math.max(p.rowsRead, 1));
        bar.update(p.rowsRead, { rate: p.rate, rejected: p.rejected });
      })
      .catch(() => undefined)
      .finally(() => (asking = false));
  }, 500);
  try {
    return (await awaitingWorker(handle, g.config.temporal.taskQueue, handle.result(), { polled })) as ReplayProgress;
  } finally {
    clearInterval(timer);
    bar?.stop();
  }
}

export function buildProgram(): Command {
  const program = new Command('ticklake')
    .description('Real-time market data pipeline on Temporal: CSV → Kafka → S3 lake → Glue → SQL')
    .option('--json', 'print machine-readable JSON')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError();

  // services -----------------------------------------------------------------------------------
  const services = program.command('services').description('install, start and stop the local services');
  for (const action of ['up', 'down', 'status'] as const) {
    services
      .command(action)
      .argument('[names...]', 'temporal, kafka, s3, moto (default: all)')
      .action(async (names: string[], _o, cmd: Command) => {
        const g = globals(cmd);
        const selected = parseServiceNames(names);
        const statuses =
          action === 'up'
            ? await ensureServices(selected)
            : action === 'down'
              ? await stopServices(selected)
              : await serviceStatus(selected);
        print(g, statuses, () =>
          table(
            ['service', 'state', 'address', 'pid', 'log'],
            statuses.map((s) => [s.name, s.state, s.url ? `${s.address}  ${s.url}` : s.address, s.pid, s.logFile]),
          ),
        );
        if (action === 'status' && statuses.some((s) => s.state !== 'running')) process.exitCode = 3;
      });
  }

  program
    .command('worker')
    .description('run a worker in the foreground (all workflows and activities)')
    .action(async () => {
      await runWorker();
    });

  // start -----------------------------------------------------------------------------------------
  program
    .command('start')
    .description('start the whole pipeline: sink, replay of a CSV, the crawl and compaction schedules')
    .option('--file <csv>', 'CSV to replay', path.join(REPO_ROOT, 'data', 'sample.csv'))
    .option('--speed <speed>', 'max | <n>rows (rows/s) | <n>days (trading days/s)', 'max')
    .option('--loop', 'replay the file again and again')
    .option('--crawl-every <interval>', "interval of the crawl schedule, e.g. '5m'")
    .option('--no-schedule', 'do not create the crawl and compaction schedules')
    .action(
      async (
        o: { file: string; speed: string; loop?: boolean; crawlEvery?: string; schedule: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const c = await client(g);
        await prepareInfrastructure(g.config);
        const sink = await startSink(c, g.config);
        const replay = await startReplay(c, g.config, { file: o.file, speed: parseSpeed(o.speed), loop: o.loop });
        const crawl = o.schedule ? await ensureCrawlSchedule(c, g.config, { every: o.crawlEvery }) : undefined;
        const compact = o.schedule ? await ensureCompactSchedule(c, g.config) : undefined;
        const out = {
          sink: sink.workflowId,
          replay: replay.workflowId,
          schedule: crawl?.scheduleId ?? null,
          compactSchedule: compact?.scheduleId ?? null,
        };
        print(g, out, () =>
          fields([
            ['sink workflow', out.sink],
            ['replay workflow', out.replay],
            ['crawl schedule', crawl ? `${crawl.scheduleId} (every ${crawl.every})` : 'not created'],
            ['compaction schedule', compact ? `${compact.scheduleId} (every ${compact.every})` : 'not created'],
          ]),
        );
        await warnWithoutWorker(g);
      },
    );

  // replay ----------------------------------------------------------------------------------------
  const replay = program.command('replay').description('start and steer replays');
  replay
    .command('start')
    .argument('<file>', 'CSV of the indexProcessed.csv schema')
    .option('--id <replayId>', 'replay id (default: the file name without extension)')
    .option('--speed <speed>', 'max | <n>rows | <n>days', 'max')
    .option('--loop', 'replay the file again and again')
    .option('--paused', 'start paused')
    .option('--wait', 'wait for the replay to finish, with a progress bar')
    .action(
      async (
        file: string,
        o: { id?: string; speed: string; loop?: boolean; paused?: boolean; wait?: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const c = await client(g);
        await prepareInfrastructure(g.config);
        const handle = await startReplay(c, g.config, {
          file,
          replayId: o.id,
          speed: parseSpeed(o.speed),
          loop: o.loop,
          paused: o.paused,
        });
        if (!o.wait) {
          const polled = await warnWithoutWorker(g);
          const failure = polled && !o.paused ? await startFailure(handle, g.config.temporal.taskQueue) : undefined;
          if (failure) throw new Error(`replay ${handle.workflowId} failed: ${failure}`);
          print(
            g,
            { workflowId: handle.workflowId },
            () => `started ${handle.workflowId} (replay id '${o.id ?? replayIdFor(file)}')`,
          );
          return;
        }
        const result = await followReplay(handle, g, await warnWithoutWorker(g));
        print(g, result, () =>
          fields([
            ['produced', result.produced],
            ['rejected', result.rejected],
            ['rows read', result.rowsRead],
          ]),
        );
      },
    );
  for (const name of ['pause', 'resume'] as const) {
    replay
      .command(name)
      .argument('<replayId>', 'replay id (e.g. sample) or workflow id')
      .action(async (id: string, _o, cmd: Command) => {
        const g = globals(cmd);
        const out = await steerReplay(await client(g), id, name);
        print(g, out, () => `${out.workflowId} ${out.state}`);
      });
  }
  replay
    .command('speed')
    .argument('<replayId>', 'replay id or workflow id')
    .argument('<speed>', 'max | <n>rows | <n>days')
    .action(async (id: string, speedText: string, _o, cmd: Command) => {
      const g = globals(cmd);
      const out = await setReplaySpeed(await client(g), id, speedText);
      print(g, out.speed, () => `${out.workflowId} speed set to ${out.described}`);
    });
  replay
    .command('status')
    .argument('<replayId>', 'replay id or workflow id')
    .action(async (id: string, _o, cmd: Command) => {
      const g = globals(cmd);
      const h = replayHandle(await client(g), id);
      // A replay that failed or was terminated still answers the query with its last state: say how it ended.
      const closed = await closedState(h);
      const progress = await answerUnlessBroken(
        closed,
        replayStatus(h, (w) => ask(w, replayProgressQuery, g.config.temporal.taskQueue)),
      );
      const s: ReplayReport =
        closed && closed.state !== 'completed'
          ? { ...progress, state: closed.state, failure: closed.failure }
          : progress!;
      print(g, s, () => fields(replayRows(s)));
    });

  // sink ------------------------------------------------------------------------------------------
  const sink = program.command('sink').description('start and steer the S3 sink');
  sink.command('start').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    await prepareInfrastructure(g.config);
    const h = await startSink(await client(g), g.config);
    print(g, { workflowId: h.workflowId }, () => `started ${h.workflowId}`);
    await warnWithoutWorker(g);
  });
  for (const [name, signal, verb] of [
    ['pause', pauseSignal, 'paused (drains, commits, stops consuming)'],
    ['resume', resumeSignal, 'resumed'],
  ] as const) {
    sink.command(name).action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      const h = (await client(g)).workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
      await h.signal(signal);
      print(
        g,
        { workflowId: h.workflowId, state: name === 'pause' ? 'paused' : 'running' },
        () => `${h.workflowId} ${verb}`,
      );
    });
  }
  sink.command('status').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    const h = (await client(g)).workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
    // A paused sink reports the offsets it committed before pausing; the broker says what waits since.
    const [s, lag] = await Promise.all([sinkReport(h, g.config.temporal.taskQueue), brokerLag(g.config)]);
    print(g, { ...s, lag: lag ?? null }, () => `${sinkRows(s)}\n${brokerLagText(g.config, lag)}`);
  });

  // crawl -----------------------------------------------------------------------------------------
  program
    .command('crawl')
    .description('update the Glue catalog from the lake')
    .command('now')
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      const polled = await warnWithoutWorker(g);
      const c = await client(g);
      const r = await awaitingWorker(
        c.workflow.getHandle(workflowIds.crawl(g.config.glue.database, g.config.glue.table)),
        g.config.temporal.taskQueue,
        runCrawl(c, g.config),
        { polled },
      );
      print(g, r, () =>
        fields([
          ['table', `${r.database}.${r.table}`],
          ['scan', r.reason ? `${r.scan} (${r.reason})` : r.scan],
          ['table created', r.tableCreated],
          ['partitions added', r.partitionsAdded],
          // A full scan sees every partition; an incremental one only those with new data.
          [r.scan === 'full' ? 'partitions in lake' : 'partitions with new data', r.partitionsFound],
          ['objects read', r.objectsRead],
          ['columns', r.columns.map((c) => `${c.name}:${c.type}`).join(', ')],
          ['drift', r.drift.join('; ') || 'none'],
        ]),
      );
    });

  // schedule --------------------------------------------------------------------------------------
  const schedule = program.command('schedule').description('the Temporal Schedule that recrawls the lake');
  const showSchedule = (g: Globals, info: CrawlScheduleInfo) =>
    print(g, info, () =>
      fields([
        ['schedule', info.scheduleId],
        ['table', info.table],
        ['every', info.every],
        ['paused', info.paused],
        ['overlap', info.overlap],
        ['runs started', info.actionsTaken ?? 0],
        ['skipped (overlap)', info.skippedOverlap ?? 0],
        ['next runs', info.next.slice(0, 3).join(', ')],
        ['note', info.note ?? ''],
      ]),
    );
  schedule
    .command('create')
    .option('--every <interval>', "how often, e.g. '30s', '5m', '1h'")
    .option('--paused', 'create it paused')
    .action(async (o: { every?: string; paused?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      showSchedule(g, await createCrawlSchedule(await client(g), g.config, { every: o.every, paused: o.paused }));
    });
  schedule
    .command('update')
    .requiredOption('--every <interval>', "new interval, e.g. '10m'")
    .action(async (o: { every: string }, cmd: Command) => {
      const g = globals(cmd);
      showSchedule(g, await setCrawlScheduleInterval(await client(g), g.config, o.every));
    });
  schedule.command('pause').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    showSchedule(g, await pauseCrawlSchedule(await client(g), g.config));
  });
  schedule.command('unpause').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    showSchedule(g, await unpauseCrawlSchedule(await client(g), g.config));
  });
  schedule.command('trigger').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    showSchedule(g, await triggerCrawlSchedule(await client(g), g.config));
  });
  schedule.command('describe').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    showSchedule(g, await describeCrawlSchedule(await client(g), g.config));
  });
  schedule.command('delete').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    await deleteCrawlSchedule(await client(g), g.config);
    print(g, { deleted: crawlScheduleId(g.config) }, () => `deleted schedule ${crawlScheduleId(g.config)}`);
  });
  schedule.command('list').action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    const all = await listCrawlSchedules(await client(g));
    print(g, all, () =>
      table(
        ['schedule', 'table', 'every', 'paused', 'runs', 'next run'],
        all.map((i) => [i.scheduleId, i.table, i.every, i.paused, i.actionsTaken ?? 0, i.next[0] ?? '']),
      ),
    );
  });

  // query -----------------------------------------------------------------------------------------
  program
    .command('query')
    .description('run one SQL statement (read-only) on the configured engine')
    .argument('<sql>', 'SQL; use ? for parameters, e.g. "SELECT * FROM ticks WHERE symbol = ?"')
    .option(
      '--param <value>',
      'a value bound to the next ? placeholder; repeat it for each',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .addOption(new Option('--engine <engine>', 'query engine').choices(['duckdb', 'athena']))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .option('--output <file>', 'write the output to this file (csv and json: the whole result)')
    .option('--chart <file>', 'also write a line chart of the whole result (.svg, .png or .html)')
    .option('--x <column>', 'chart: x axis column (default: the first date column)')
    .option('--y <column>', 'chart: y axis column (default: the first numeric column)')
    .option('--series <column>', 'chart: one line per value of this column (default: the first text column)')
    .action(
      async (
        sql: string,
        o: {
          param?: string[];
          engine?: 'duckdb' | 'athena';
          format: 'table' | 'csv' | 'json';
          output?: string;
          chart?: string;
          x?: string;
          y?: string;
          series?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const polled = await warnWithoutWorker(g);
        const h = await startQuery(await client(g), g.config, sql, o.param ?? [], { engine: o.engine });
        const r = await awaitingWorker(h, g.config.temporal.taskQueue, h.result(), { polled });
        await printQueryResult(
          r,
          {
            format: g.json ? 'json' : o.format,
            output: o.output,
            chart: o.chart,
            chartOptions: { x: o.x, y: o.y, series: o.series },
          },
          createAwsClients(g.config.aws).s3,
        );
      },
    );

  // status ----------------------------------------------------------------------------------------
  program
    .command('status')
    .description('one screen: workflows, producer position and rate, sink lag, last crawl')
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      const c = await client(g);
      const tq = g.config.temporal.taskQueue;
      // The queries run side by side: without a worker each one waits for its deadline.
      let noWorker: string | undefined;
      /** Notes a query that no worker answered; 'unanswered' for those, undefined for other failures. */
      const noted = (err: unknown) => {
        if (!(err instanceof NoWorkerError)) return undefined;
        noWorker = err.message;
        return 'unanswered' as const;
      };
      // What needs no running workflow's answer is asked at once, beside the rest.
      const crawlScheduleState = describeCrawlSchedule(c, g.config).catch(() => undefined);
      const compactionState = compactReport(g.config, c).catch(() => undefined);
      const sinkHandle = c.workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
      // Running but unanswered, or not there at all.
      const sinkState = sinkReport(sinkHandle, tq).catch(noted);
      const crawlHandle = c.workflow.getHandle(workflowIds.crawl(g.config.glue.database, g.config.glue.table));
      const crawlState = crawlHandle.describe().then(
        async (d) => ({
          lastCrawl: { status: d.status.name, closed: d.closeTime?.toISOString() },
          // A running crawl workflow lingers for notices between crawls: its own status says what it did.
          crawl: d.status.name === 'RUNNING' ? await ask(crawlHandle, crawlStatusQuery, tq).catch(noted) : undefined,
        }),
        () => ({ lastCrawl: undefined, crawl: undefined }),
      );
      const lagState = (async (): Promise<Record<string, string> | undefined> => {
        try {
          const admin = createKafka(g.config.kafka, '-status').admin();
          await admin.connect();
          try {
            return Object.fromEntries(
              [...(await groupLag(admin, g.config.sink.groupId, g.config.kafka.topic))].map(([p, l]) => [
                String(p),
                l.toString(),
              ]),
            );
          } finally {
            await admin.disconnect();
          }
        } catch {
          return undefined;
        }
      })();
      const running: string[] = [];
      for await (const w of c.workflow.list({
        query: `WorkflowType = 'replayWorkflow' AND ExecutionStatus = 'Running'`,
      })) {
        running.push(w.workflowId);
      }
      const replayStates = Promise.all(
        running.map(async (workflowId) => {
          const h = c.workflow.getHandle(workflowId);
          const health = await workflowHealth(h).catch(() => undefined);
          // A replay on a failing workflow task cannot answer: say so, with the failure.
          if (health?.state === 'stuck') return { workflowId, stuck: health.failure, status: undefined };
          // status undefined: a replay that just finished
          return { workflowId, status: await replayStatus(h, (w) => ask(w, replayProgressQuery, tq)).catch(noted) };
        }),
      );
      const lag = await lagState;
      const replayAnswers = await replayStates;
      const replays = replayAnswers.flatMap((r) =>
        r.status && r.status !== 'unanswered' ? [{ workflowId: r.workflowId, ...r.status }] : [],
      );
      const unansweredReplays = replayAnswers.filter((r) => r.status === 'unanswered').map((r) => r.workflowId);
      const stuckReplays = replayAnswers.flatMap((r) =>
        'stuck' in r && r.stuck ? [{ workflowId: r.workflowId, failure: r.stuck }] : [],
      );
      const sinkAnswer = await sinkState;
      const sinkStatus = sinkAnswer === 'unanswered' ? undefined : sinkAnswer;
      const { lastCrawl, crawl: crawlAnswer } = await crawlState;
      const crawl = crawlAnswer === 'unanswered' ? undefined : crawlAnswer;
      const crawlSchedule: CrawlScheduleInfo | undefined = await crawlScheduleState;
      const compaction = await compactionState;
      const data = {
        // Set when a running workflow could not be asked: no worker answered.
        noWorker: noWorker ?? null,
        replays,
        unansweredReplays,
        stuckReplays,
        sink: sinkStatus ?? null,
        sinkUnanswered: sinkAnswer === 'unanswered',
        lag: lag ?? null,
        lastCrawl: lastCrawl ?? null,
        crawl: crawl ?? null,
        schedule: crawlSchedule
          ? { every: crawlSchedule.every, paused: crawlSchedule.paused, next: crawlSchedule.next[0] ?? null }
          : null,
        compaction: compaction ?? null,
      };
      print(g, data, () => {
        const parts: string[] = [];
        if (noWorker) parts.push(`note: ${noWorker}; the running workflows below wait for it`);
        parts.push(
          replays.length === 0 && unansweredReplays.length === 0 && stuckReplays.length === 0
            ? 'replays: none running'
            : table(
                ['replay', 'state', 'speed', 'produced', 'rejected', 'line', 'rows/s'],
                replays
                  .map((r) => [r.workflowId, r.state, describeSpeed(r.speed), r.produced, r.rejected, r.line, r.rate])
                  .concat(unansweredReplays.map((id) => [id, 'running, no answer', '', '', '', '', '']))
                  .concat(stuckReplays.map((r) => [r.workflowId, `stuck: ${r.failure}`, '', '', '', '', ''])),
              ),
        );
        const sinkId = workflowIds.sink(g.config.kafka.topic);
        parts.push(
          sinkStatus
            ? `sink (${sinkId}), as it reports itself:\n${sinkRows(sinkStatus)}`
            : sinkAnswer === 'unanswered'
              ? `sink (${sinkId}): running, no answer`
              : 'sink: not running',
        );
        if (lag) {
          parts.push(
            `consumer group '${g.config.sink.groupId}' on the broker (lag from committed offsets):\n` +
              table(['partition', 'lag'], Object.entries(lag)),
          );
        }
        parts.push(crawlAnswer === 'unanswered' ? 'crawl: running, no answer' : crawlLine(lastCrawl, crawl));
        parts.push(
          crawlSchedule
            ? `crawl schedule: every ${crawlSchedule.every}${crawlSchedule.paused ? ' (paused)' : `, next run ${crawlSchedule.next[0] ?? '?'}`}`
            : 'crawl schedule: none (npx ticklake schedule create)',
        );
        parts.push(compaction ? compactLine(compaction) : 'compaction: state not readable (is the S3 server up?)');
        return parts.join('\n');
      });
    });
  registerReplayCommands(replay, { globals, client });
  registerCompactCommands(program, { globals, client });
  registerDlqCommand(program, { globals });
  registerDashboardCommand(program, { globals, client });
  return describeCommands(program);
}

export async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    console.error(`error: ${errorMessage(err)}`);
    if (program.opts<{ verbose?: boolean }>().verbose) console.error(err);
    process.exitCode = 1;
  } finally {
    if (clientPromise) await (await clientPromise.catch(() => undefined))?.connection.close();
  }
}

if (require.main === module) void main();

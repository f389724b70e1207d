/**
 * What the dashboard shows of the pipeline, read the way `npx ticklake status` reads it: the replays'
 * and the sink's progress (src/progress.ts), the crawl workflow's status, the schedules, the
 * consumer group's lag, and whether each service answers. Every part that cannot be read says why
 * instead of failing the whole.
 */
import type { Client } from '@temporalio/client';
import { compactReport } from '../compact/report';
import { compactLine } from '../compact/summary';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { Admin } from 'kafkajs';
import type { TicklakeConfig } from '../config';
import { createAwsClients } from '../adapters/aws';
import { createKafka, groupLag } from '../adapters/kafka';
import { workflowIds } from '../pipeline';
import { replayStatus, sinkStatus, workflowHealth } from '../progress';
import { describeSpeed } from '../replay/pacing';
import { ask, livePollers, START_A_WORKER } from '../cli/worker-presence';
import { replayIdOf } from '../cli/replay-commands';
import { crawlStatusQuery, replayProgressQuery, sinkStatusQuery } from '../../workflows/definitions';
import { scheduleLink, workflowLink, type DashboardOptions } from './options';

/** A part that could be read, or why not. */
export type Part<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface ServiceState {
  name: 'temporal' | 'worker' | 'kafka' | 's3';
  label: string;
  ok: boolean;
  detail: string;
}

export interface ReplayView {
  workflowId: string;
  replayId: string;
  link: string;
  state: string;
  failure?: string;
  file?: string;
  speed?: string;
  position?: number;
  line?: number;
  rowsRead?: number;
  produced?: number;
  rejected?: number;
  rate?: number;
  pass?: number;
}

export interface SinkView {
  workflowId: string;
  link: string;
  state: string;
  failure?: string;
  records?: number;
  deadLetters?: number;
  files?: number;
  lastFlushAt?: string;
  lastFreshnessMs?: number;
  /** Lag per partition: the sink's own (running), else the broker's for its group. */
  partitions: { partition: number; lag: string }[];
  lagSource: 'sink' | 'broker' | 'none';
}

export interface CrawlView {
  workflowId: string;
  link: string;
  state: string;
  crawls?: number;
  lastCrawl?: { scan: string; partitionsFound: number; partitionsAdded: number; durationMs: number };
  partitionsRegistered?: number;
  lastError?: string;
}

export interface ScheduleView {
  scheduleId: string;
  link: string;
  workflowType: string;
  paused: boolean;
  next: string[];
}

/** The last compaction of the lake into the curated zone, from its state in the bucket. */
export interface CompactionView {
  workflowId: string;
  link: string;
  state: string;
  summary?: string;
}

export interface PipelineSnapshot {
  at: string;
  services: ServiceState[];
  replays: Part<ReplayView[]>;
  sink: Part<SinkView | null>;
  crawl: Part<CrawlView | null>;
  compaction: Part<CompactionView | null>;
  schedules: Part<ScheduleView[]>;
}

function reason(err: unknown): string {
  const e = err as { message?: string; name?: string; code?: string };
  return (e?.message || e?.name || String(err)).split('\n')[0].slice(0, 300);
}

async function part<T>(read: () => Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, reason: reason(err) };
  }
}

/** Fails after `ms` with `what` timed out: a service that does not answer must not hold the page. */
export function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Reads the pipeline's state; one per dashboard server. */
export class PipelineReader {
  private readonly s3;
  private admin?: Admin;
  private adminConnecting?: Promise<Admin>;
  /** The lag being read: one at a time, and closing waits for it. */
  private lagging?: Promise<Map<number, bigint>>;
  private schedules?: { at: number; value: Part<ScheduleView[]> };

  constructor(
    private readonly config: TicklakeConfig,
    private readonly client: () => Promise<Client>,
    private readonly options: DashboardOptions,
  ) {
    this.s3 = createAwsClients(config.aws).s3;
  }

  private link(workflowId: string): string {
    return workflowLink(this.options.temporalUiUrl, this.config.temporal.namespace, workflowId);
  }

  async read(): Promise<PipelineSnapshot> {
    const [temporal, s3, lag] = await Promise.all([
      this.temporalState(),
      this.s3State(),
      part(() =>
        withTimeout('Kafka', 3_000, (this.lagging ??= this.brokerLag().finally(() => (this.lagging = undefined)))),
      ),
    ]);
    const services = this.serviceStates(temporal, s3, lag);
    const down = (what: string): Part<never> => ({
      ok: false,
      reason: `${what} unavailable: Temporal does not answer (${temporal.ok ? '' : temporal.reason})`,
    });
    if (!temporal.ok) {
      return {
        at: new Date().toISOString(),
        services,
        replays: down('replays'),
        sink: down('sink'),
        crawl: down('crawl'),
        compaction: down('compaction'),
        schedules: down('schedules'),
      };
    }
    const [replays, sink, crawl, compaction, schedules] = await Promise.all([
      part(() => this.replays()),
      part(() => this.sink(lag.ok ? lag.value : undefined)),
      part(() => this.crawl()),
      part(() => this.compaction()),
      this.cachedSchedules(),
    ]);
    return { at: new Date().toISOString(), services, replays, sink, crawl, compaction, schedules };
  }

  /**
   * What a market query needs: Temporal, a worker and S3 (no Kafka, none of the workflows' state), in
   * one round trip to each; for a query started before the first sample of the pipeline.
   */
  async queryServices(): Promise<ServiceState[]> {
    const [temporal, s3] = await Promise.all([this.temporalState(), this.s3State()]);
    return this.serviceStates(temporal, s3);
  }

  private serviceStates(temporal: Part<number>, s3: Part<true>, lag?: Part<unknown>): ServiceState[] {
    const tq = this.config.temporal.taskQueue;
    return [
      {
        name: 'temporal',
        label: 'Temporal',
        ok: temporal.ok,
        detail: temporal.ok ? this.config.temporal.address : temporal.reason,
      },
      temporal.ok
        ? {
            name: 'worker',
            label: 'worker',
            ok: temporal.value > 0,
            detail:
              temporal.value > 0
                ? `${temporal.value} polling '${tq}'`
                : `no worker polls task queue '${tq}'; ${START_A_WORKER}`,
          }
        : { name: 'worker', label: 'worker', ok: false, detail: 'unknown: Temporal does not answer' },
      ...(lag
        ? [
            {
              name: 'kafka' as const,
              label: 'Kafka',
              ok: lag.ok,
              detail: lag.ok ? this.config.kafka.brokers.join(',') : lag.reason,
            },
          ]
        : []),
      {
        name: 's3',
        label: 'S3 (the lake)',
        ok: s3.ok,
        detail: s3.ok ? `bucket ${this.config.lake.bucket}` : s3.reason,
      },
    ];
  }

  /** Whether Temporal answers, and how many live workers poll the task queue. */
  private async temporalState(): Promise<Part<number>> {
    return part(async () => {
      const c = await withTimeout('Temporal', 3_000, this.client());
      const res = await c.withDeadline(Date.now() + 3_000, () =>
        c.workflowService.describeTaskQueue({
          namespace: this.config.temporal.namespace,
          taskQueue: { name: this.config.temporal.taskQueue },
          taskQueueType: 1,
        }),
      );
      return livePollers(res.pollers, Date.now());
    });
  }

  private async s3State(): Promise<Part<true>> {
    return part(async () => {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.config.lake.bucket }), {
        abortSignal: AbortSignal.timeout(2_000),
      });
      return true as const;
    }).then((p) => (p.ok ? p : { ok: false, reason: `${this.config.aws.s3Endpoint ?? 'S3'}: ${p.reason}` }));
  }

  private async brokerLag(): Promise<Map<number, bigint>> {
    try {
      const admin = await (this.adminConnecting ??= (async () => {
        // A sample a second: a broker that does not answer is reported, not waited for.
        const a = createKafka(this.config.kafka, '-dashboard', {
          requestTimeout: 2_500,
          retry: { initialRetryTime: 200, retries: 1, maxRetryTime: 1_000 },
        }).admin();
        await a.connect();
        this.admin = a;
        return a;
      })());
      return await groupLag(admin, this.config.sink.groupId, this.config.kafka.topic);
    } catch (err) {
      // Connect again next time: the broker may have restarted.
      const a = this.admin;
      this.admin = undefined;
      this.adminConnecting = undefined;
      await a?.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async replays(): Promise<ReplayView[]> {
    const c = await this.client();
    const tq = this.config.temporal.taskQueue;
    const ids: string[] = [];
    for await (const w of c.workflow.list({
      query: `WorkflowType = 'replayWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${tq}'`,
    })) {
      ids.push(w.workflowId);
    }
    return Promise.all(
      ids.sort().map(async (workflowId): Promise<ReplayView> => {
        const h = c.workflow.getHandle(workflowId);
        const base = { workflowId, replayId: replayIdOf(workflowId), link: this.link(workflowId) };
        const health = await workflowHealth(h);
        if (health.state === 'stuck') return { ...base, state: 'stuck', failure: health.failure };
        try {
          const s = await replayStatus(h, (w) => ask(w, replayProgressQuery, tq, 3_000));
          return {
            ...base,
            state: s.state,
            file: s.file,
            speed: describeSpeed(s.speed),
            position: s.position,
            line: s.line,
            rowsRead: s.rowsRead,
            produced: s.produced,
            rejected: s.rejected,
            rate: s.rate,
            pass: s.pass,
          };
        } catch (err) {
          return { ...base, state: 'running, no answer', failure: reason(err) };
        }
      }),
    );
  }

  /** The running sink's record count (undefined when none runs): a cheap sign that the lake changed. */
  async sinkRecords(): Promise<number | undefined> {
    const c = await this.client();
    const h = c.workflow.getHandle(workflowIds.sink(this.config.kafka.topic));
    const s = await sinkStatus(h, (w) => ask(w, sinkStatusQuery, this.config.temporal.taskQueue, 3_000));
    return s.state === 'running' ? s.records : undefined;
  }

  private async sink(brokerLag: Map<number, bigint> | undefined): Promise<SinkView | null> {
    const c = await this.client();
    const workflowId = workflowIds.sink(this.config.kafka.topic);
    const h = c.workflow.getHandle(workflowId);
    const broker = brokerLag
      ? [...brokerLag].map(([partition, lag]) => ({ partition, lag: lag.toString() }))
      : undefined;
    const health = await workflowHealth(h).catch((err: unknown) => {
      if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
      throw err;
    });
    const base = { workflowId, link: this.link(workflowId) };
    if (!health) return null;
    if (health.state !== 'running') {
      return {
        ...base,
        state: health.state,
        failure: 'failure' in health ? health.failure : undefined,
        partitions: broker ?? [],
        lagSource: broker ? 'broker' : 'none',
      };
    }
    const s = await sinkStatus(h, (w) => ask(w, sinkStatusQuery, this.config.temporal.taskQueue, 3_000));
    const own = s.state === 'running' && s.partitions && s.partitions.length > 0;
    return {
      ...base,
      state: s.state,
      records: s.records,
      deadLetters: s.deadLetters,
      files: s.files,
      lastFlushAt: s.lastFlushAt,
      lastFreshnessMs: s.lastFreshnessMs,
      partitions: own ? s.partitions.map((p) => ({ partition: p.partition, lag: p.lag })) : (broker ?? []),
      lagSource: own ? 'sink' : broker ? 'broker' : 'none',
    };
  }

  /** The compaction's state (the lake's, no worker needed): what it holds, its last run, what waits. */
  private async compaction(): Promise<CompactionView | null> {
    const c = await this.client().catch(() => undefined);
    const report = await compactReport(this.config, c);
    if (!report.last && report.totals.partitions === 0) return null;
    const workflowId = workflowIds.compact(this.config.glue.database, this.config.glue.table);
    const state = report.failures.length > 0 ? `${report.failures.length} window(s) failing` : 'in step';
    return {
      workflowId,
      link: this.link(workflowId),
      state,
      summary: compactLine(report).replace(/^compaction: /, ''),
    };
  }

  private async crawl(): Promise<CrawlView | null> {
    const c = await this.client();
    const workflowId = workflowIds.crawl(this.config.glue.database, this.config.glue.table);
    const h = c.workflow.getHandle(workflowId);
    const d = await h.describe().catch((err: unknown) => {
      if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
      throw err;
    });
    if (!d) return null;
    const base = { workflowId, link: this.link(workflowId), state: d.status.name.toLowerCase() };
    if (d.status.name !== 'RUNNING') return base;
    const s = await ask(h, crawlStatusQuery, this.config.temporal.taskQueue, 3_000);
    return {
      ...base,
      crawls: s.crawls,
      partitionsRegistered: s.partitionsRegistered,
      lastError: s.lastError,
      lastCrawl: s.lastCrawl && {
        scan: s.lastCrawl.scan,
        partitionsFound: s.lastCrawl.partitionsFound,
        partitionsAdded: s.lastCrawl.partitionsAdded,
        durationMs: s.lastCrawl.durationMs,
      },
    };
  }

  /** Every schedule of the namespace with its next runs; read every 10 s at most (they change rarely). */
  private async cachedSchedules(): Promise<Part<ScheduleView[]>> {
    const now = Date.now();
    if (this.schedules && now - this.schedules.at < 10_000) return this.schedules.value;
    const value = await part(async () => {
      const c = await this.client();
      const out: ScheduleView[] = [];
      for await (const s of c.schedule.list()) {
        out.push({
          scheduleId: s.scheduleId,
          link: scheduleLink(this.options.temporalUiUrl, this.config.temporal.namespace, s.scheduleId),
          workflowType: s.action?.workflowType ?? '',
          paused: s.state.paused,
          next: s.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        });
      }
      return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
    });
    this.schedules = { at: now, value };
    return value;
  }

  async close(): Promise<void> {
    await this.lagging?.catch(() => undefined);
    await this.adminConnecting?.catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.s3.destroy();
  }
}

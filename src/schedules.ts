/**
 * Scheduled recrawls: a Temporal Schedule that starts `crawlWorkflow` for the configured table every
 * interval. Overlap policy SKIP: a crawl still running when the next is due makes the schedule skip
 * that one. The same operations with the Temporal CLI are in docs/operations.md ("Scheduled recrawls").
 *
 * Schedule id `ticklake-crawl-<database>.<table>`; the workflows it starts have ids
 * `crawl/<database>.<table>/scheduled-<time>` (Temporal appends the time), so they never collide with
 * the on-demand and sink-notified crawl workflow `crawl/<database>.<table>`.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleSummary,
} from '@temporalio/client';
import type { TicklakeConfig } from './config';
import { SEARCH_ATTRIBUTES, workflowIds } from './workflow-ids';
import { compactInput, crawlInput } from './workflow-inputs';

/** A schedule problem the caller can fix (unknown schedule, bad interval, one already there). */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export interface CrawlScheduleOptions {
  /** How often: a duration such as '30s', '5m', '1h', or milliseconds. Default `config.crawler.scheduleEvery`. */
  every?: string | number;
  /** Create it paused. Default false. */
  paused?: boolean;
  /** Note shown by `temporal schedule describe` and the Web UI. */
  note?: string;
}

/** What a crawl schedule is and did. */
export interface CrawlScheduleInfo {
  scheduleId: string;
  /** Interval in milliseconds. */
  everyMs: number;
  /** Interval as text, e.g. '5m'. */
  every: string;
  paused: boolean;
  note?: string;
  /** 'skip', or the policy's name if someone changed it. */
  overlap: string;
  /** Base id of the workflows it starts (Temporal appends the time). */
  workflowId: string;
  /** Database and table crawled, `<database>.<table>`. */
  table: string;
  actionsTaken?: number;
  skippedOverlap?: number;
  /** Ids of crawl workflows started by it and still running. */
  running?: string[];
  /** The latest starts, oldest first. */
  recent: { scheduledAt: string; startedAt: string; workflowId: string }[];
  next: string[];
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** '2s' | '5m' | '1 hour' | 1500 → milliseconds. At least one second (Temporal's resolution). */
export function parseInterval(every: string | number): number {
  let ms: number;
  if (typeof every === 'number') {
    ms = every;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(every);
    const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
    if (!m || unit === undefined) {
      throw new ScheduleError(`interval '${every}' is not a duration: use e.g. '30s', '5m', '1h' or '1 day'`);
    }
    ms = Number(m[1]) * unit;
  }
  if (!Number.isFinite(ms) || ms < 1000)
    throw new ScheduleError(`interval must be at least 1 second; got ${String(every)}`);
  return Math.round(ms / 1000) * 1000;
}

/** 120000 → '2m'; 90000 → '90s'. */
export function formatInterval(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function crawlScheduleId(config: TicklakeConfig): string {
  return `ticklake-crawl-${config.glue.database}.${config.glue.table}`;
}

function scheduledWorkflowId(config: TicklakeConfig): string {
  return `${workflowIds.crawl(config.glue.database, config.glue.table)}/scheduled`;
}

async function described(handle: ScheduleHandle): Promise<ScheduleDescription> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new ScheduleError(
        `schedule '${handle.scheduleId}' does not exist; create it with 'npx ticklake schedule create'`,
      );
    }
    throw err;
  }
}

function toInfo(d: ScheduleDescription | ScheduleSummary): CrawlScheduleInfo {
  const everyMs = d.spec?.intervals?.[0]?.every ?? 0;
  const memo = (d.memo ?? {}) as { database?: unknown; table?: unknown };
  const full = 'policies' in d ? d : undefined;
  return {
    scheduleId: d.scheduleId,
    everyMs,
    every: formatInterval(everyMs),
    paused: d.state.paused,
    note: d.state.note || undefined,
    overlap: full
      ? full.policies.overlap === ScheduleOverlapPolicy.SKIP
        ? 'skip'
        : String(full.policies.overlap)
      : 'skip',
    workflowId: d.action && 'workflowId' in d.action ? String(d.action.workflowId) : '',
    table: typeof memo.database === 'string' && typeof memo.table === 'string' ? `${memo.database}.${memo.table}` : '',
    actionsTaken: full?.info.numActionsTaken,
    skippedOverlap: full?.info.numActionsSkippedOverlap,
    running: full?.info.runningActions.map((a) => a.workflow.workflowId),
    recent: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      startedAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    next: d.info.nextActionTimes.map((t) => t.toISOString()),
  };
}

/**
 * Creates the crawl schedule of the configured table. Fails with ScheduleError if it exists
 * (use {@link setCrawlScheduleInterval} or {@link ensureCrawlSchedule}).
 */
export async function createCrawlSchedule(
  client: Client,
  config: TicklakeConfig,
  opts: CrawlScheduleOptions = {},
): Promise<CrawlScheduleInfo> {
  return createSchedule(client, config, CRAWL, opts);
}

/** What differs between the crawl's schedule and the compaction's. */
interface ScheduleKind {
  stage: 'crawl' | 'compact';
  id(config: TicklakeConfig): string;
  workflowType: string;
  workflowId(config: TicklakeConfig): string;
  args(config: TicklakeConfig): unknown[];
  every(config: TicklakeConfig): string;
  command: string;
}

const CRAWL: ScheduleKind = {
  stage: 'crawl',
  id: crawlScheduleId,
  workflowType: 'crawlWorkflow',
  workflowId: scheduledWorkflowId,
  args: (config) => [crawlInput(config)],
  every: (config) => config.crawler.scheduleEvery,
  command: 'npx ticklake schedule update --every <interval>',
};

const COMPACT: ScheduleKind = {
  stage: 'compact',
  id: compactScheduleId,
  workflowType: 'compactWorkflow',
  workflowId: (config) => `${workflowIds.compact(config.glue.database, config.glue.table)}/scheduled`,
  args: (config) => [compactInput(config)],
  every: (config) => config.compact.every,
  command: 'COMPACT_EVERY and npx ticklake start',
};

export function compactScheduleId(config: TicklakeConfig): string {
  return `ticklake-compact-${config.glue.database}.${config.glue.table}`;
}

async function createSchedule(
  client: Client,
  config: TicklakeConfig,
  kind: ScheduleKind,
  opts: CrawlScheduleOptions,
): Promise<CrawlScheduleInfo> {
  const every = parseInterval(opts.every ?? kind.every(config));
  const scheduleId = kind.id(config);
  try {
    const handle = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every }] },
      action: {
        type: 'startWorkflow',
        workflowType: kind.workflowType,
        args: kind.args(config),
        taskQueue: config.temporal.taskQueue,
        workflowId: kind.workflowId(config),
        searchAttributes: { [SEARCH_ATTRIBUTES.stage]: [kind.stage] },
        memo: { stage: kind.stage, scheduled: true },
      },
      policies: {
        overlap: ScheduleOverlapPolicy.SKIP,
        // After an outage, one catch-up run covers everything missed: no burst of runs.
        catchupWindow: Math.max(every, 60_000),
      },
      state: {
        paused: opts.paused ?? false,
        note: opts.note ?? `ticklake ${kind.stage} of ${config.glue.database}.${config.glue.table}`,
      },
      memo: { stage: kind.stage, database: config.glue.database, table: config.glue.table },
    });
    return toInfo(await described(handle));
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) {
      throw new ScheduleError(`schedule '${scheduleId}' exists already; change its interval with ${kind.command}`);
    }
    throw err;
  }
}

/** Creates the compaction schedule, or brings the existing one in step with the configuration. */
export async function ensureCompactSchedule(client: Client, config: TicklakeConfig): Promise<CrawlScheduleInfo> {
  try {
    return await createSchedule(client, config, COMPACT, {});
  } catch (err) {
    if (!(err instanceof ScheduleError) || !/exists already/.test(err.message)) throw err;
    return updateSchedule(client, config, parseInterval(config.compact.every), true, COMPACT);
  }
}

export async function describeCompactSchedule(client: Client, config: TicklakeConfig): Promise<CrawlScheduleInfo> {
  return toInfo(await described(client.schedule.getHandle(compactScheduleId(config))));
}

/**
 * Creates the schedule, or brings the existing one in step with the configuration (interval, crawl
 * input, task queue) keeping its paused state. For `npm start` and the pipeline.
 */
export async function ensureCrawlSchedule(
  client: Client,
  config: TicklakeConfig,
  opts: CrawlScheduleOptions = {},
): Promise<CrawlScheduleInfo> {
  try {
    return await createCrawlSchedule(client, config, opts);
  } catch (err) {
    if (!(err instanceof ScheduleError) || !/exists already/.test(err.message)) throw err;
    return updateSchedule(client, config, parseInterval(opts.every ?? config.crawler.scheduleEvery), true);
  }
}

/** Changes how often the crawl runs; the schedule keeps its paused state and its other settings. */
export async function setCrawlScheduleInterval(
  client: Client,
  config: TicklakeConfig,
  every: string | number,
): Promise<CrawlScheduleInfo> {
  return updateSchedule(client, config, parseInterval(every), false);
}

async function updateSchedule(
  client: Client,
  config: TicklakeConfig,
  every: number,
  refreshAction: boolean,
  kind: ScheduleKind = CRAWL,
): Promise<CrawlScheduleInfo> {
  const handle = client.schedule.getHandle(kind.id(config));
  await described(handle);
  await handle.update((previous) => ({
    ...previous,
    spec: { intervals: [{ every }] },
    action: refreshAction
      ? { ...previous.action, args: kind.args(config), taskQueue: config.temporal.taskQueue }
      : previous.action,
    policies: { ...previous.policies, catchupWindow: Math.max(every, 60_000) },
  }));
  return toInfo(await described(handle));
}

export async function pauseCrawlSchedule(
  client: Client,
  config: TicklakeConfig,
  note = 'paused with ticklake',
): Promise<CrawlScheduleInfo> {
  const handle = client.schedule.getHandle(crawlScheduleId(config));
  await described(handle);
  await handle.pause(note);
  return toInfo(await described(handle));
}

export async function unpauseCrawlSchedule(
  client: Client,
  config: TicklakeConfig,
  note = 'unpaused with ticklake',
): Promise<CrawlScheduleInfo> {
  const handle = client.schedule.getHandle(crawlScheduleId(config));
  await described(handle);
  await handle.unpause(note);
  return toInfo(await described(handle));
}

/**
 * Starts a crawl now, even when the schedule is paused. With the schedule's SKIP policy it does
 * nothing while a scheduled crawl is still running.
 */
export async function triggerCrawlSchedule(client: Client, config: TicklakeConfig): Promise<CrawlScheduleInfo> {
  const handle = client.schedule.getHandle(crawlScheduleId(config));
  await described(handle);
  await handle.trigger(ScheduleOverlapPolicy.SKIP);
  return toInfo(await described(handle));
}

/** Deletes the schedule; crawls it started keep running to their end. */
export async function deleteCrawlSchedule(client: Client, config: TicklakeConfig): Promise<void> {
  const handle = client.schedule.getHandle(crawlScheduleId(config));
  await described(handle);
  await handle.delete();
}

export async function describeCrawlSchedule(client: Client, config: TicklakeConfig): Promise<CrawlScheduleInfo> {
  return toInfo(await described(client.schedule.getHandle(crawlScheduleId(config))));
}

/** Every crawl schedule in the namespace (any table), by schedule id. */
export async function listCrawlSchedules(client: Client): Promise<CrawlScheduleInfo[]> {
  const out: CrawlScheduleInfo[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.workflowType === 'crawlWorkflow' || s.scheduleId.startsWith('ticklake-crawl-')) out.push(toInfo(s));
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

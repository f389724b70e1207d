/**
 * What the CLI reports on a running or ended workflow (replay, sink, crawl): the query's answer, or how
 * and why a workflow that cannot answer (failed, stuck on a failing workflow task) ended.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { describeSpeed } from '../replay/pacing';
import { sinkStatusQuery, type CrawlStatus, type ReplayStatus, type SinkStatus } from '../../workflows/definitions';
import { sinkStatus, workflowHealth } from '../progress';
import { fields, table } from './output';
import { ask } from './worker-presence';

/**
 * How a workflow ended, or 'stuck' when it runs on a failing workflow task; undefined while it runs
 * well. `failure` is the reason a failed or stuck one gives.
 */
export async function closedState(h: WorkflowHandle): Promise<{ state: string; failure?: string } | undefined> {
  const health = await workflowHealth(h);
  return health.state === 'running' ? undefined : health;
}

/** The query's answer, or (for a workflow that failed or is stuck, which cannot answer) nothing. */
export async function answerUnlessBroken<S>(
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

/** A replay's report; for one that failed or is stuck, only how and why (it cannot answer its query). */
export type ReplayReport = Partial<Omit<ReplayStatus, 'state'>> & { state: string; failure?: string };

/** The rows of a report that has them (a stuck or failed workflow's report holds state and failure only). */
function present(rows: [string, string | number | undefined][]): [string, string | number][] {
  return rows.filter((r): r is [string, string | number] => r[1] !== undefined);
}

export function replayRows(s: ReplayReport): [string, string | number][] {
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
export type SinkReport = Partial<Omit<SinkStatus, 'state'>> & { state: string; failure?: string };

export async function sinkReport(h: WorkflowHandle, taskQueue: string): Promise<SinkReport> {
  const closed = await closedState(h);
  const s = await answerUnlessBroken(
    closed,
    sinkStatus(h, (w) => ask(w, sinkStatusQuery, taskQueue)),
  );
  return closed ? { ...s, state: closed.state, failure: closed.failure } : s!;
}

export function sinkRows(s: SinkReport): string {
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
export function crawlLine(
  workflow: { status: string; closed?: string } | undefined,
  crawl: CrawlStatus | undefined,
): string {
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

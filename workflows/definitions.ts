/** Signals, queries and updates, shared by workflows and clients. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CrawlResult, ReplayProgress, SinkProgress } from '../activities/types';
import type { ReplaySpeed } from '../src/replay/pacing';

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

export const setSpeedUpdate = defineUpdate<ReplaySpeed, [ReplaySpeed]>('setSpeed');

export interface ReplayStatus extends ReplayProgress {
  state: 'running' | 'paused' | 'completed';
  speed: ReplaySpeed;
  file: string;
}
/**
 * The replay's own state, and its progress as of the last activity run that ended. Live progress is
 * in the running activity's heartbeat details: `replayStatus` (src/progress.ts) combines the two.
 */
export const replayProgressQuery = defineQuery<ReplayStatus>('progress');

export interface SinkStatus extends SinkProgress {
  /** 'draining': paused, the activity is still writing and committing what it holds. */
  state: 'running' | 'draining' | 'paused';
  topic: string;
  /** Time from the last pause signal until the sink had drained and stopped consuming, ms. */
  lastDrainMs?: number;
}
/**
 * The sink's own state, and its counters as of the last activity run that ended. Live offsets and
 * counters are in the running activity's heartbeat details: `sinkStatus` (src/progress.ts) combines
 * the two.
 */
export const sinkStatusQuery = defineQuery<SinkStatus>('status');

/** Sink → crawl: lake partitions the sink has just written to (`symbol=HSI/year=1987`). Sent with signal-with-start. */
export interface NewPartitionsNotice {
  partitions: string[];
  /**
   * The sink has buffered records for these partitions but written none yet: register them if the
   * table exists, but do not crawl to create the table for them (the lake may hold nothing yet; the
   * notice sent once their first object is written does that).
   */
  buffered?: boolean;
}
export const newPartitionsSignal = defineSignal<[NewPartitionsNotice]>('newPartitionsSignal');

export interface CrawlNowOptions {
  /** Rescan the whole table folder, not only what is new since the last crawl. */
  full?: boolean;
}
/** Runs a crawl in the running crawl workflow (or one started for it) and returns its result. */
export const crawlNowUpdate = defineUpdate<CrawlResult, [CrawlNowOptions?]>('crawlNow');

export interface CrawlStatus {
  /** Notified partitions waiting to be registered. */
  pendingPartitions: number;
  /** Crawls asked for and not run yet. */
  pendingCrawls: number;
  crawls: number;
  noticeBatches: number;
  partitionsNotified: number;
  partitionsRegistered: number;
  lastCrawl?: CrawlResult;
  lastError?: string;
}
export const crawlStatusQuery = defineQuery<CrawlStatus>('status');

export interface CompactWorkflowStatus {
  phase: 'planning' | 'compacting' | 'switching' | 'cataloguing' | 'expiring' | 'done';
  generation?: number;
  windows: number;
  windowsDone: number;
  failed: number;
  startedAt: string;
  note?: string;
}
/** Where a running compaction is. */
export const compactStatusQuery = defineQuery<CompactWorkflowStatus>('status');

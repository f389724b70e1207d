/**
 * What running workflows of earlier versions still need, kept so that their histories replay (see
 * docs/workflow-testing.md, "Changing a workflow"). Remove an entry once no workflow that was
 * started before its change runs any more (`temporal workflow list --query 'ExecutionStatus="Running"'`).
 */
import { defineSignal } from '@temporalio/workflow';
import type { ReplayProgress, SinkProgress } from '../activities/types';

/**
 * Patch id: from this change on, the produce and sink activities report progress in heartbeat details
 * instead of signalling their workflow (which grew the sink's history by about 7,000 events an hour).
 * A run started before it (no marker in its history) keeps its progress-signal handler.
 */
export const PROGRESS_IN_HEARTBEATS = 'progress-in-heartbeats';

/** Sent by produce activities of earlier versions. */
export const legacyReplayProgressSignal = defineSignal<[ReplayProgress]>('replayProgressSignal');
/** Sent by sink activities of earlier versions. */
export const legacySinkProgressSignal = defineSignal<[SinkProgress]>('sinkProgressSignal');

/**
 * Patch id: from this change on, the compaction compacts the plan's batches of small windows with one
 * `compactPartitions` each instead of one `compactPartition` per window. A run started before it (no
 * marker in its history) compacts its windows one by one.
 */
export const COMPACT_WINDOW_BATCHES = 'compact-window-batches';

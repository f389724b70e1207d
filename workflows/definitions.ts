/** Signals, queries and updates, shared by workflows and clients. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReplayProgress, SinkProgress } from '../activities/types';
import type { ReplaySpeed } from '../src/replay/pacing';

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

export const setSpeedUpdate = defineUpdate<ReplaySpeed, [ReplaySpeed]>('setSpeed');

export interface ReplayStatus extends ReplayProgress {
  state: 'running' | 'paused' | 'completed';
  speed: ReplaySpeed;
  file: string;
}
export const replayProgressQuery = defineQuery<ReplayStatus>('progress');
/** Sent by the produce activity; not for users. */
export const replayProgressSignal = defineSignal<[ReplayProgress]>('replayProgressSignal');

export interface SinkStatus extends SinkProgress {
  state: 'running' | 'paused';
  topic: string;
}
export const sinkStatusQuery = defineQuery<SinkStatus>('status');
/** Sent by the sink activity; not for users. */
export const sinkProgressSignal = defineSignal<[SinkProgress]>('sinkProgressSignal');

/**
 * Failure types of the sink stage (the sink activity), and which of them no retry can fix. Constants
 * and types only: imported by the sink, its activity and the sink workflow's retry policy (the
 * workflow sandbox).
 */

/** Bad configuration: zstd on this Node, a missing bucket or topic, non-positive limits. */
export const INVALID_SINK_CONFIG = 'InvalidSinkConfig';
/** A manifest in the lake does not fit the log (a recreated topic, two sinks sharing a prefix). */
export const SINK_LAYOUT_CONFLICT = 'SinkLayoutConflict';
/** The Kafka consumer crashed; retried (the next attempt resumes from the committed offsets). */
export const SINK_CONSUMER_CRASHED = 'SinkConsumerCrashed';

export type SinkFailureType = typeof SINK_CONSUMER_CRASHED | typeof SINK_LAYOUT_CONFLICT;

/** Failure types of the sink activity that no retry can fix. */
export const SINK_NON_RETRYABLE = [INVALID_SINK_CONFIG, SINK_LAYOUT_CONFLICT];

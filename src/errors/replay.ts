/**
 * Failure types of the replay stage (the produce activity), and which of them no retry can fix.
 * Constants and types only: imported by the replay engine, the produce activity and the replay
 * workflow's retry policy (the workflow sandbox), so the three always agree.
 */

/** The file is missing, unreadable, empty, of another schema, or has an over-long line. */
export const INVALID_SOURCE_FILE = 'InvalidSourceFile';
/** The file changed (size or modification time) since the replay's position was written. */
export const SOURCE_CHANGED = 'SourceChanged';
/** The replay's input contradicts its recorded position (another order for the same replay id). */
export const INVALID_REPLAY_INPUT = 'InvalidReplayInput';

export type ReplayInputErrorType = typeof INVALID_SOURCE_FILE | typeof SOURCE_CHANGED | typeof INVALID_REPLAY_INPUT;

/** Failure types of the produce activity that no retry can fix. */
export const REPLAY_NON_RETRYABLE: ReplayInputErrorType[] = [INVALID_SOURCE_FILE, SOURCE_CHANGED, INVALID_REPLAY_INPUT];

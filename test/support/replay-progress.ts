import type { ReplayProgress } from '../../activities/types';

/** A replay's progress after `produced` rows of one pass, none rejected; other fields as given. */
export function replayProgress(produced: number, fields: Partial<ReplayProgress> = {}): ReplayProgress {
  return {
    rowsRead: produced,
    produced,
    rejected: 0,
    position: produced,
    line: produced + 1,
    pass: 0,
    order: 'file',
    rate: 0,
    done: false,
    updatedAt: '2026-12-07T14:00:00.000Z',
    ...fields,
  };
}

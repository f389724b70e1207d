/**
 * The entry of `ticklake status`'s second thread (see status-side.ts): asks the broker for the sink
 * group's lag and the lake for the curated zone's state, and posts both answers to the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../config';
import { askHere, type SideAnswers } from './status-side';

void askHere(loadConfig()).then(
  (answers) => parentPort?.postMessage({ ...answers, via: 'thread' } satisfies SideAnswers),
  (err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);

/**
 * The questions `ticklake status` asks the broker and the lake, answered on a second thread.
 *
 * A status is nearly all CPU: loading Temporal's client, the AWS SDK and kafkajs, and encoding and
 * decoding their requests, about a second on one core. The broker's lag and the curated zone's state
 * need no Temporal, so a worker thread loads kafkajs and the S3 client and asks them while the main
 * thread loads Temporal's client and asks the workflows: on a machine of two cores or more the two
 * halves overlap. When the thread cannot start, the same questions are asked on the main thread.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompactReport } from '../compact/summary';
import type { TicklakeConfig } from '../config';
import { brokerLag } from './broker-lag';
import { compactLakeReport } from './lazy';

export interface SideAnswers {
  /** Lag per partition of the sink's group, undefined when the broker did not answer. */
  lag: Record<string, string> | undefined;
  /** The curated zone's state without its schedule, undefined when the lake could not be read. */
  lake: Omit<CompactReport, 'schedule'> | undefined;
  /** Where they were asked: on the worker thread, or on the main thread when the thread failed. */
  via: 'thread' | 'main';
}

/** Questions under way on the thread: their answers, and a way to stop asking. */
export interface SideQuestions {
  answers: Promise<SideAnswers>;
  /** Ends the thread when the command fails before it needs the answers. */
  stop(): void;
}

/** Asks the broker and the lake on a worker thread (or here, if the thread fails). */
export function askBrokerAndLake(config: TicklakeConfig): SideQuestions {
  const here = async (): Promise<SideAnswers> => ({ ...(await askHere(config)), via: 'main' });
  let worker: Worker;
  try {
    worker = startThread();
  } catch {
    const answers = here();
    return { answers, stop: () => undefined };
  }
  const answers = new Promise<SideAnswers>((resolve) => {
    let settled = false;
    const settle = (answer: () => Promise<SideAnswers> | SideAnswers) => {
      if (settled) return;
      settled = true;
      resolve(answer());
      void worker.terminate();
    };
    // An answer, or the same questions here when the thread failed or ended without one.
    worker.once('message', (m: SideAnswers | { error: string }) => settle(() => ('error' in m ? here() : m)));
    worker.once('error', () => settle(here));
    worker.once('exit', () => settle(here));
  });
  return { answers, stop: () => void worker.terminate() };
}

/** The questions themselves, asked on the thread that calls this. */
export async function askHere(config: TicklakeConfig): Promise<Omit<SideAnswers, 'via'>> {
  const [lag, lake] = await Promise.all([brokerLag(config), compactLakeReport(config).catch(() => undefined)]);
  return { lag, lake };
}

/** The thread runs status-thread.js from dist/, or status-thread.ts through tsx when run from source. */
function startThread(): Worker {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `status-thread${ext}`);
  if (ext === '.js') return new Worker(entry);
  // tsx resolved here, where it is found, not from the thread's working directory.
  return new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`, {
    eval: true,
  });
}

/**
 * Activities report progress to their workflow with a signal, so that the workflow's query answers
 * without I/O. Signals are throttled (one per interval per workflow) to keep histories short; the
 * last one of a run is always sent.
 */
import type { Client } from '@temporalio/client';
import { log } from '@temporalio/activity';

export interface ProgressReporter {
  report(workflowId: string, signal: string, payload: unknown, force?: boolean): void;
  /**
   * Resolves when every signal reported so far has been answered or has failed, or after `timeoutMs`.
   * A worker waits for this before it closes its client: a signal still being retried on a closed
   * connection would be lost, and the client's retry timer would throw.
   */
  settled(timeoutMs?: number): Promise<void>;
}

export function createProgressReporter(getClient: () => Promise<Client>, intervalMs = 2000): ProgressReporter {
  const lastSent = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  return {
    report(workflowId, signal, payload, force = false) {
      const now = Date.now();
      if (!force && now - (lastSent.get(workflowId) ?? 0) < intervalMs) return;
      lastSent.set(workflowId, now);
      const sending = getClient()
        .then((c) => c.workflow.getHandle(workflowId).signal(signal, payload))
        .catch((err: unknown) => {
          // A workflow that already ended needs no progress; anything else is worth a warning.
          if ((err as Error).name === 'WorkflowNotFoundError') return;
          log.warn('progress signal not delivered', { workflowId, signal, error: String(err) });
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    },
    async settled(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.all([...inFlight]), timeout]);
      clearTimeout(timer);
    },
  };
}

/** The sink's consumer group lag as the broker sees it (committed offsets against end offsets). */
import { createKafka, groupLag } from './lazy';
import type { TicklakeConfig } from '../config';
import { table } from './output';

/**
 * Lag per partition, or undefined when the broker cannot be asked: within a few seconds, and without
 * kafkajs's log lines (the command says that the broker did not answer).
 */
export async function brokerLag(config: TicklakeConfig): Promise<Record<string, string> | undefined> {
  try {
    const admin = createKafka(config.kafka, '-status', {
      requestTimeout: 2_500,
      retry: { initialRetryTime: 200, retries: 1, maxRetryTime: 1_000 },
      quiet: true,
    }).admin();
    await admin.connect();
    try {
      return Object.fromEntries(
        [...(await groupLag(admin, config.sink.groupId, config.kafka.topic))].map(([p, l]) => [
          String(p),
          l.toString(),
        ]),
      );
    } finally {
      await admin.disconnect();
    }
  } catch {
    return undefined;
  }
}

export function brokerLagText(config: TicklakeConfig, lag: Record<string, string> | undefined): string {
  if (!lag) return `consumer group '${config.sink.groupId}' on the broker: the broker did not answer`;
  return (
    `consumer group '${config.sink.groupId}' on the broker (lag from committed offsets):\n` +
    table(['partition', 'lag'], Object.entries(lag))
  );
}

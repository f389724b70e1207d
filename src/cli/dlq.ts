/**
 * `npx ticklake dlq [--replay ID] [--limit N] [--json]`: what was rejected, by whom and why. The
 * producer's dead letters are CSV rows in the dead-letter topic; the sink's are Kafka messages the lake
 * could not take, under the lake's `_dlq/` prefix.
 */
import type { Command } from 'commander';
import type { TicklakeConfig } from '../config';
import type { DeadLetter } from '../dead-letters';
import { createAwsClients, createKafka, readProducerDeadLetters, readSinkDeadLetters } from './lazy';
import { table, type OutputOptions } from './output';

export interface DlqContext {
  globals(cmd: Command): OutputOptions & { config: TicklakeConfig };
}

/** Longest raw text shown in the table (the JSON has it whole). */
const RAW_SHOWN = 60;

export interface DlqListing {
  replay: string | null;
  producer: { topic: string; count: number };
  sink: { location: string; count: number };
  /** Every dead letter found, oldest first (at most `limit` when a limit applies). */
  deadLetters: DeadLetter[];
  /** Dead letters found but not listed because of the limit. */
  notShown: number;
}

export async function listDeadLetters(
  config: TicklakeConfig,
  opts: { replayId?: string; limit?: number },
): Promise<DlqListing> {
  const kafka = createKafka(config.kafka, '-dlq');
  const { s3 } = createAwsClients(config.aws);
  const [producer, sink] = await Promise.all([
    readProducerDeadLetters(kafka, config.kafka.dlqTopic, { replayId: opts.replayId }),
    readSinkDeadLetters(s3, config.lake.bucket, config.lake.prefix, { replayId: opts.replayId }),
  ]);
  const all = [...producer, ...sink];
  const limit = opts.limit && opts.limit > 0 ? opts.limit : all.length;
  return {
    replay: opts.replayId ?? null,
    producer: { topic: config.kafka.dlqTopic, count: producer.length },
    sink: { location: `s3://${config.lake.bucket}/${config.lake.prefix}_dlq/`, count: sink.length },
    deadLetters: all.slice(0, limit),
    notShown: Math.max(0, all.length - limit),
  };
}

export function dlqText(l: DlqListing): string {
  const scope = l.replay ? ` of replay '${l.replay}'` : '';
  const head =
    `${l.producer.count} rows rejected by the producer${scope} (topic '${l.producer.topic}'), ` +
    `${l.sink.count} messages rejected by the sink${l.replay ? ' from it' : ''} (${l.sink.location})`;
  if (l.deadLetters.length === 0) return head;
  const shown = (raw: string) => {
    const one = JSON.stringify(raw).slice(1, -1);
    return one.length > RAW_SHOWN ? `${one.slice(0, RAW_SHOWN)}… (${raw.length} chars; --json for all)` : one;
  };
  const rows = l.deadLetters.map((d) => [
    d.stage,
    d.replay ?? '',
    d.source !== undefined || d.line !== undefined ? `${d.source ?? '?'}:${d.line ?? '?'}` : '',
    d.reason,
    shown(d.raw),
    d.at,
  ]);
  const more = l.notShown > 0 ? `\n${l.notShown} more not shown: --limit 0 lists all` : '';
  return `${head}\n${table(['from', 'replay', 'line', 'reason', 'raw', 'when'], rows)}${more}`;
}

export function registerDlqCommand(program: Command, ctx: DlqContext): void {
  program
    .command('dlq')
    .description('list rejected rows and messages: line, reason, raw text, when (producer and sink)')
    .option('--replay <replayId>', 'only the dead letters of this replay')
    .option('--limit <n>', 'list at most n (0: all)', '100')
    .action(async (o: { replay?: string; limit: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 0)
        throw new Error(`--limit must be a whole number >= 0, got '${o.limit}'`);
      const replayId = o.replay?.replace(/^replay\//, '');
      const listing = await listDeadLetters(g.config, { replayId, limit });
      if (g.json) console.log(JSON.stringify(listing, null, 2));
      else console.log(dlqText(listing));
    });
}

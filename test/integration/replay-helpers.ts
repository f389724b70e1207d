/** Shared checks of the replay producer's integration tests: what a topic holds, against the CSV. */
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Kafka } from 'kafkajs';
import { endOffsets, readTopicToEnd } from '../../src/adapters/kafka';
import { parseRow, type Tick } from '../../src/tick';
import type { LakeRecord } from '../../src/message';

export interface TopicMessage {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Sum of a topic's end offsets (transaction markers included): it moves whenever anything is committed or aborted. */
export async function topicEnd(kafka: Kafka, topic: string): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return [...(await endOffsets(admin, topic)).values()].reduce((sum, end) => sum + end, 0n);
  } finally {
    await admin.disconnect();
  }
}

/** Every committed message of a topic (read_committed), in partition and offset order. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<TopicMessage[]> {
  const out: TopicMessage[] = [];
  await readTopicToEnd(
    kafka,
    topic,
    (partition, messages) => {
      for (const m of messages) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
        out.push({
          partition,
          offset: m.offset,
          key: m.key?.toString() ?? '',
          value: m.value?.toString() ?? '',
          headers,
        });
      }
    },
    { groupPrefix: 'replay-test-reader', timeoutMs, maxBytes: 32 * 1024 * 1024 },
  );
  out.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  return out;
}

export interface ExpectedRows {
  /** Valid rows by `symbol|trade_date`. */
  ticks: Map<string, { tick: Tick; line: number }>;
  /** Rejected rows by line number. */
  rejected: Map<number, { reason: string; raw: string }>;
  perSymbol: Map<string, number>;
}

/** What a replay of the file must produce, computed independently of the producer (whole-file csv-parse). */
export function expectedRows(file: string): ExpectedRows {
  const text = fs.readFileSync(file);
  const records = parse(text, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: false,
    quote: false,
    record_delimiter: ['\r\n', '\n'],
    info: true,
    raw: true,
  }) as unknown as { record: string[]; raw: string; info: { lines: number } }[];
  const ticks = new Map<string, { tick: Tick; line: number }>();
  const rejected = new Map<number, { reason: string; raw: string }>();
  const perSymbol = new Map<string, number>();
  for (const r of records.slice(1)) {
    const result = parseRow(r.record);
    if (result.ok) {
      const key = `${result.tick.symbol}|${result.tick.trade_date}`;
      if (ticks.has(key)) throw new Error(`test data has a duplicate (symbol, date): ${key}`);
      ticks.set(key, { tick: result.tick, line: r.info.lines });
      perSymbol.set(result.tick.symbol, (perSymbol.get(result.tick.symbol) ?? 0) + 1);
    } else {
      rejected.set(r.info.lines, { reason: result.reason, raw: r.raw.replace(/\r?\n$/, '') });
    }
  }
  return { ticks, rejected, perSymbol };
}

/**
 * Compares the tick topic with the file: every valid row exactly once, with equal values and lineage.
 * Returns the problems found (empty when the topic is exactly right), at most `limit` of them.
 */
export function exactlyOnceProblems(
  messages: TopicMessage[],
  expected: ExpectedRows,
  source: string,
  limit = 20,
): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const perSymbol = new Map<string, number>();
  for (const m of messages) {
    const v = JSON.parse(m.value) as LakeRecord;
    const key = `${v.symbol}|${v.trade_date}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    perSymbol.set(v.symbol, (perSymbol.get(v.symbol) ?? 0) + 1);
    const want = expected.ticks.get(key);
    if (!want) {
      problems.push(`unexpected message ${key} at ${m.partition}/${m.offset}`);
      continue;
    }
    const { source: s, row, ingested_at, ...tick } = v;
    if (JSON.stringify(tick) !== JSON.stringify(want.tick))
      problems.push(`values of ${key} differ: ${JSON.stringify(tick)} vs ${JSON.stringify(want.tick)}`);
    if (s !== source || row !== want.line)
      problems.push(`lineage of ${key} is ${s}:${row}, expected ${source}:${want.line}`);
    if (m.key !== v.symbol || m.headers.source !== source || m.headers.row !== String(want.line))
      problems.push(`key or headers of ${key} are wrong`);
    if (Number.isNaN(Date.parse(ingested_at))) problems.push(`ingested_at of ${key} is not a time: ${ingested_at}`);
  }
  for (const [key, n] of seen) if (n > 1) problems.push(`duplicate: ${key} x${n}`);
  for (const key of expected.ticks.keys()) if (!seen.has(key)) problems.push(`missing: ${key}`);
  for (const [symbol, n] of expected.perSymbol) {
    if (perSymbol.get(symbol) !== n) problems.push(`count of ${symbol}: ${perSymbol.get(symbol) ?? 0}, expected ${n}`);
  }
  return problems.slice(0, limit);
}

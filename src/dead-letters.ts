/**
 * Reading back what was rejected: the producer's dead letters (rows of a CSV file, in the dead-letter
 * topic, one message each, see message.ts) and the sink's (Kafka messages the lake could not take,
 * gzip JSON lines under `<prefix>_dlq/`, see sink/partition-writer.ts). `npx ticklake dlq` lists both;
 * `npm start` prints the first reasons of its replay.
 */
import { gunzipSync } from 'node:zlib';
import type { Kafka } from 'kafkajs';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { readTopicToEnd } from './adapters/kafka';
import { getObjectBytes } from './adapters/s3';
import type { DeadLetterRow } from './message';
import type { DeadLetterRecord } from './sink/partition-writer';

/** One rejected row or message, whichever stage rejected it. */
export interface DeadLetter {
  /** 'producer': a CSV row the replay rejected; 'sink': a Kafka message the lake could not take. */
  stage: 'producer' | 'sink';
  /** Replay that read the row, when known. */
  replay?: string;
  /** Source file name, when known. */
  source?: string;
  /** Line of the row in the source file, when known. */
  line?: number;
  reason: string;
  /** The row's text (producer), or the message value as text (sink). */
  raw: string;
  /** When it was rejected (ISO-8601). */
  at: string;
  /** Where the dead letter is: `topic/partition@offset` or the lake object's key. */
  where: string;
}

/** A producer dead letter from its message; undefined for a value that is not one. Pure. */
export function producerDeadLetter(
  value: string,
  timestampMs: string,
  where: string,
  headers: Record<string, string> = {},
): DeadLetter | undefined {
  let parsed: Partial<DeadLetterRow>;
  try {
    parsed = JSON.parse(value) as Partial<DeadLetterRow>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.reason !== 'string') return undefined;
  const replay = parsed.replay ?? headers.replay;
  return {
    stage: 'producer',
    ...(replay ? { replay } : {}),
    ...(typeof parsed.source === 'string' ? { source: parsed.source } : {}),
    ...(typeof parsed.row === 'number' ? { line: parsed.row } : {}),
    reason: parsed.reason,
    raw: typeof parsed.raw === 'string' ? parsed.raw : '',
    at: isoOf(timestampMs),
    where,
  };
}

/** The sink dead letters of one `_dlq/` object's text (JSON lines). Pure. */
export function sinkDeadLetters(text: string, key: string): DeadLetter[] {
  const out: DeadLetter[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let r: Partial<DeadLetterRecord>;
    try {
      r = JSON.parse(line) as Partial<DeadLetterRecord>;
    } catch {
      out.push({ stage: 'sink', reason: 'unreadable dead-letter line', raw: line, at: '', where: key });
      continue;
    }
    const headers = r.headers ?? {};
    const row = Number(headers.row);
    out.push({
      stage: 'sink',
      ...(headers.replay ? { replay: headers.replay } : {}),
      ...(headers.source ? { source: headers.source } : {}),
      ...(Number.isInteger(row) && row > 0 ? { line: row } : {}),
      reason: r.reason ?? '',
      raw: r.value_base64 ? Buffer.from(r.value_base64, 'base64').toString('utf8') : '(no value)',
      at: r.timestamp ? isoOf(r.timestamp) : '',
      where: `${key} (${r.topic ?? '?'}/${r.partition ?? '?'}@${r.offset ?? '?'})`,
    });
  }
  return out;
}

function isoOf(ms: string): string {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : ms;
}

/**
 * Every committed message of the dead-letter topic, read from the beginning to the end offsets it had
 * when the call began, by a consumer group of its own that is deleted afterwards.
 */
export async function readProducerDeadLetters(
  kafka: Kafka,
  topic: string,
  opts: { replayId?: string; timeoutMs?: number } = {},
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  await readTopicToEnd(
    kafka,
    topic,
    (partition, messages) => {
      for (const m of messages) {
        if (m.value === null) continue;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
        const d = producerDeadLetter(
          m.value.toString('utf8'),
          m.timestamp,
          `${topic}/${partition}@${m.offset}`,
          headers,
        );
        if (d && (opts.replayId === undefined || d.replay === opts.replayId)) out.push(d);
      }
    },
    {
      groupPrefix: 'ticklake-dlq-reader',
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxWaitTimeInMs: 200,
      what: `the dead-letter topic '${topic}'`,
    },
  );
  return out.sort(byTimeThenLine);
}

/** Every sink dead letter under `<prefix>_dlq/` (all topics), or only those of a replay. */
export async function readSinkDeadLetters(
  s3: S3Client,
  bucket: string,
  prefix: string,
  opts: { replayId?: string } = {},
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  try {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: `${prefix}_dlq/` })) {
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        const bytes = await getObjectBytes(s3, bucket, o.Key);
        if (!bytes) continue;
        const text = (o.Key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
        for (const d of sinkDeadLetters(text, o.Key)) {
          if (opts.replayId === undefined || d.replay === opts.replayId) out.push(d);
        }
      }
    }
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchBucket') return out;
    throw err;
  }
  return out.sort(byTimeThenLine);
}

function byTimeThenLine(a: DeadLetter, b: DeadLetter): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : (a.line ?? 0) - (b.line ?? 0);
}

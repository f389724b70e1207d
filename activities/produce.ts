/** The replay producer: CSV rows into Kafka, exactly once, steerable, dead-lettering bad rows. */
import { ApplicationFailure, Context, CancelledFailure, log } from '@temporalio/activity';
import type { Kafka, Message } from 'kafkajs';
import type { ProducerPool } from '../src/replay/producer-pool';
import { CompressionTypes } from 'kafkajs';
import { SourceFileError, openSource, readRows, sourceName, type SourceFingerprint } from '../src/replay/csv-source';
import { Pacer } from '../src/replay/pacing';
import { readPosition, type ReplayPosition } from '../src/replay/positions';
import { parseRow } from '../src/tick';
import { deadLetterMessage, tickMessage, type TickMessage } from '../src/message';
import type { ProduceInput, ReplayProgress } from './types';
import type { ProgressReporter } from './progress';

export interface ProduceDeps {
  kafka: Kafka;
  producers: ProducerPool;
  reporter: ProgressReporter;
}

function toKafka(m: TickMessage): Message {
  return { key: m.key, value: m.value, timestamp: m.timestamp, headers: m.headers };
}

function sameFile(a: SourceFingerprint, b: SourceFingerprint): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export function createProduceActivities(deps: ProduceDeps) {
  return {
    /** Streams the file into the topic from the last committed position; returns when the file is done. */
    async produceTicks(input: ProduceInput): Promise<ReplayProgress> {
      const ctx = Context.current();
      const source = sourceName(input.file);
      let fingerprint: SourceFingerprint;
      try {
        fingerprint = await openSource(input.file);
      } catch (err) {
        if (err instanceof SourceFileError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidSourceFile');
        throw err;
      }
      const producer = await deps.producers.get(input.replayId);
      // Read the position only after the fence above: no older attempt can commit past it any more.
      let position: ReplayPosition | undefined = await readPosition(deps.kafka, input.positionsTopic, input.replayId);
      if (position && !sameFile(position.fingerprint, fingerprint)) {
        throw ApplicationFailure.nonRetryable(
          `source file '${input.file}' changed since replay '${input.replayId}' started (size or mtime differ); ` +
            'start a new replay id to replay the new file',
          'SourceChanged',
        );
      }
      position ??= { consumed: 0, produced: 0, rejected: 0, pass: 0, fingerprint, line: 1, updatedAt: new Date().toISOString() };
      log.info('replay resuming', { replayId: input.replayId, consumed: position.consumed, pass: position.pass });

      const batchSize = input.batchSize ?? 5000;
      let cancelled = false;
      ctx.cancelled.catch(() => (cancelled = true));
      const progress = (done: boolean, rate: number): ReplayProgress => ({
        rowsRead: position!.produced + position!.rejected,
        produced: position!.produced,
        rejected: position!.rejected,
        line: position!.line,
        pass: position!.pass,
        rate,
        done,
        updatedAt: new Date().toISOString(),
      });
      let lastReport = { at: Date.now(), rows: position.produced + position.rejected };
      const report = (done: boolean) => {
        const now = Date.now();
        const rows = position!.produced + position!.rejected;
        const rate = now > lastReport.at ? ((rows - lastReport.rows) * 1000) / (now - lastReport.at) : 0;
        lastReport = { at: now, rows };
        const p = progress(done, Math.round(rate));
        ctx.heartbeat(p);
        if (input.progressWorkflowId) deps.reporter.report(input.progressWorkflowId, 'replayProgressSignal', p, done);
      };

      let ticks: Message[] = [];
      let dead: Message[] = [];
      let pending = { consumed: 0, produced: 0, rejected: 0, line: position.line };
      const commit = async () => {
        if (pending.consumed === 0) return;
        const next: ReplayPosition = {
          ...position!,
          consumed: position!.consumed + pending.consumed,
          produced: position!.produced + pending.produced,
          rejected: position!.rejected + pending.rejected,
          line: pending.line,
          updatedAt: new Date().toISOString(),
        };
        const txn = await producer.transaction();
        try {
          const topicMessages = [
            { topic: input.topic, messages: ticks },
            { topic: input.dlqTopic, messages: dead },
            { topic: input.positionsTopic, messages: [{ key: input.replayId, value: JSON.stringify(next) }] },
          ].filter((t) => t.messages.length > 0);
          await txn.sendBatch({ topicMessages, compression: CompressionTypes.GZIP });
          await txn.commit();
        } catch (err) {
          await txn.abort().catch(() => undefined);
          // A fenced or broken producer cannot be reused: the next attempt makes a new one.
          await deps.producers.drop(input.replayId);
          throw err;
        }
        position = next;
        ticks = [];
        dead = [];
        pending = { consumed: 0, produced: 0, rejected: 0, line: next.line };
      };

      for (;;) {
        const skip = position.consumed;
        let index = 0;
        let pacer = new Pacer(input.speed, Date.now());
        let paced = { rows: 0, days: 0, lastDate: '' };
        let lastCommitAt = Date.now();
        for await (const row of readRows(input.file)) {
          if (row.line === 1) continue;
          if (index++ < skip) continue;
          const now = Date.now();
          if (input.speed.mode !== 'max') {
            const date = row.fields[1] ?? '';
            if (date !== paced.lastDate) {
              paced.days++;
              paced.lastDate = date;
            }
            const wait = pacer.waitMs(paced.rows, paced.days - 1, now);
            if (wait > 0) {
              await commit();
              lastCommitAt = Date.now();
              report(false);
              await sleepUnlessCancelled(ctx, wait);
            }
            paced.rows++;
          }
          if (cancelled) break;
          const result = parseRow(row.fields);
          if (result.ok) {
            ticks.push(toKafka(tickMessage(result.tick, source, row.line, new Date(now))));
            pending.produced++;
          } else {
            dead.push(toKafka(deadLetterMessage({ source, row: row.line, reason: result.reason, raw: row.raw }, new Date(now))));
            pending.rejected++;
          }
          pending.consumed++;
          pending.line = row.line;
          if (pending.consumed >= batchSize || Date.now() - lastCommitAt > 250) {
            await commit();
            lastCommitAt = Date.now();
            report(false);
          }
          if (cancelled) break;
          // Reset the pacer on the first row so a resumed replay does not race to catch up.
          if (paced.rows === 1 && input.speed.mode !== 'max') {
            pacer = new Pacer(input.speed, Date.now());
            paced = { rows: 1, days: 1, lastDate: paced.lastDate };
          }
        }
        await commit();
        if (cancelled) {
          report(false);
          throw new CancelledFailure('replay paused or cancelled; the committed position is kept');
        }
        if (!input.loop) break;
        position = { ...position, consumed: 0, pass: position.pass + 1, line: 1 };
        // The pass change is recorded with the first batch of the next pass.
      }
      report(true);
      return progress(true, 0);
    },
  };
}

async function sleepUnlessCancelled(ctx: Context, ms: number): Promise<void> {
  await Promise.race([ctx.sleep(ms), ctx.cancelled.catch(() => undefined)]);
}

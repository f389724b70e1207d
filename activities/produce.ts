/** The replay producer activity: CSV rows into Kafka, exactly once, steerable, dead-lettering bad rows. */
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import type { ProducerPool } from '../src/replay/producer-pool';
import { ReplayInputError, ReplayStopped, runReplay } from '../src/replay/replayer';
import type { ProduceInput, ReplayProgress } from './types';
import type { PipelineMetrics } from '../src/metrics';

export interface ProduceDeps {
  kafka: Kafka;
  producers: ProducerPool;
  metrics?: PipelineMetrics;
}

/**
 * Heartbeats go out on a timer, not only between rows: a transaction waiting on the broker or a long
 * scan of the file must not look like a dead worker, and cancellation (pause) arrives with heartbeat
 * responses, so they keep flowing while the replay waits. Each carries the latest progress: the Web
 * UI shows it, and clients read it with `describe` (src/progress.ts); nothing goes into the workflow's
 * history.
 */
const HEARTBEAT_EVERY_MS = 500;

export function createProduceActivities(deps: ProduceDeps) {
  return {
    /**
     * Streams the file into the topic from the replay's last committed position; returns when the file
     * is done. Cancelling it (pause, speed change) stops it promptly; what was committed stays
     * committed, and it returns its progress (`done` false) so that the workflow keeps it.
     */
    async produceTicks(input: ProduceInput): Promise<ReplayProgress> {
      const ctx = Context.current();
      let latest: ReplayProgress | undefined;
      const source = path.basename(input.file);
      const timer = setInterval(() => ctx.heartbeat(latest), HEARTBEAT_EVERY_MS);
      ctx.heartbeat();
      try {
        return await runReplay(
          { kafka: deps.kafka, producers: deps.producers },
          {
            replayId: input.replayId,
            file: input.file,
            topic: input.topic,
            dlqTopic: input.dlqTopic,
            positionsTopic: input.positionsTopic,
            speed: input.speed,
            order: input.order,
            loop: input.loop,
            batchSize: input.batchSize,
            compression: input.compression,
          },
          {
            signal: ctx.cancellationSignal,
            progress(p) {
              // Counters grow by what this attempt committed since its previous report.
              if (latest && deps.metrics) {
                deps.metrics.rowsProduced(p.produced - latest.produced, source);
                deps.metrics.rowsRejected(p.rejected - latest.rejected, source);
              }
              latest = p;
            },
            log,
          },
        );
      } catch (err) {
        if (err instanceof ReplayInputError) throw ApplicationFailure.nonRetryable(err.message, err.type);
        if (err instanceof ReplayStopped) {
          const reason = (ctx.cancellationSignal.reason as Error | undefined)?.message ?? 'CANCELLED';
          const meta = {
            replayId: input.replayId,
            reason,
            position: err.progress.position,
            produced: err.progress.produced,
          };
          // NOT_FOUND / TIMED_OUT: the server gave this attempt up (a stalled worker) and runs a newer one.
          if (reason === 'NOT_FOUND' || reason === 'TIMED_OUT')
            log.warn('replay attempt abandoned by the server; stopped', meta);
          else log.info('replay stopped', meta);
          // Stopped by its workflow (pause, speed change): report where it stopped as the result.
          if (reason === 'CANCELLED') return err.progress;
          throw new CancelledFailure(err.message);
        }
        throw err;
      } finally {
        clearInterval(timer);
      }
    },
  };
}

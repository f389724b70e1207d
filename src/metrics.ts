/**
 * ticklake's own metrics, exported with the Temporal SDK's runtime metrics on the worker's
 * Prometheus endpoint (http://127.0.0.1:9464/metrics by default).
 */
import net from 'node:net';
import type { MetricMeter } from '@temporalio/common';

export interface PipelineMetrics {
  rowsProduced(n: number, source: string): void;
  rowsRejected(n: number, source: string): void;
  recordsSunk(n: number, topic: string): void;
  deadLetters(n: number, topic: string): void;
  bytesWritten(n: number, topic: string): void;
  filesWritten(n: number, topic: string): void;
  flushLatency(ms: number, topic: string): void;
  lag(records: number, topic: string, partition: number): void;
}

export function createPipelineMetrics(meter: MetricMeter): PipelineMetrics {
  const produced = meter.createCounter('ticklake_rows_produced', 'rows', 'CSV rows committed to Kafka');
  const rejected = meter.createCounter('ticklake_rows_rejected', 'rows', 'CSV rows sent to the dead-letter topic');
  const sunk = meter.createCounter('ticklake_records_sunk', 'records', 'records written to durable lake objects');
  const dead = meter.createCounter(
    'ticklake_sink_dead_letters',
    'records',
    'poison messages written to the dead-letter prefix',
  );
  const bytes = meter.createCounter('ticklake_sink_bytes', 'bytes', 'bytes of lake objects written');
  const files = meter.createCounter('ticklake_sink_files', 'files', 'lake objects written');
  const flush = meter.createHistogram(
    'ticklake_sink_flush_latency',
    'int',
    'ms',
    'time to write one flush (manifest, objects, commit)',
  );
  const lag = meter.createGauge(
    'ticklake_sink_lag',
    'int',
    'records',
    'records in the topic not yet committed by the sink',
  );
  return {
    rowsProduced: (n, source) => n > 0 && produced.add(n, { source }),
    rowsRejected: (n, source) => n > 0 && rejected.add(n, { source }),
    recordsSunk: (n, topic) => n > 0 && sunk.add(n, { topic }),
    deadLetters: (n, topic) => n > 0 && dead.add(n, { topic }),
    bytesWritten: (n, topic) => n > 0 && bytes.add(n, { topic }),
    filesWritten: (n, topic) => n > 0 && files.add(n, { topic }),
    flushLatency: (ms, topic) => flush.record(Math.max(0, Math.round(ms)), { topic }),
    lag: (records, topic, partition) => lag.set(records, { topic, partition: String(partition) }),
  };
}

/** True when nothing listens on the port yet. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * `npm run bench:produce`: how fast the replay producer gets a file into Kafka, and how much memory it
 * takes, on the local broker.
 *
 * 1. Replays the real file (TICKLAKE_REAL_CSV) as fast as possible, `--runs` times (default 3), and
 *    reports the median rate.
 * 2. Generates a 5,000,000-row file of the same schema in os.tmpdir() (deleted afterwards) and replays
 *    it once, for the peak memory of a file far larger than the real one.
 *
 * Each replay runs in a child process of its own running the same engine as the produce activity, compiled
 * as the worker runs it (dist/src/replay/replayer.js, feed thread included) against the process's one Kafka client; the figures are
 * that process's: wall time, CPU time (all threads) and peak RSS (`process.resourceUsage().maxRSS`).
 * The rows reported are not the replay's own counters: after each replay the topic is read to its end
 * offsets (read_committed; the end offsets alone also count each transaction's commit markers) and its
 * records counted, as are the dead-letter topic's. The count must equal the valid rows of the file
 * (and the dead letters its invalid ones), or the benchmark fails. Topics are unique per run and
 * deleted afterwards. The last line printed is one JSON object.
 *
 * Options: --runs <n>, --order file|market, --compression gzip|none, --skip-5m, --rows-5m <n>.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createKafka } from '../src/adapters/kafka';
import type * as KafkaAdapter from '../src/adapters/kafka';
import { loadConfig, type TicklakeConfig } from '../src/config';
import type * as ProducerPoolModule from '../src/replay/producer-pool';
import type * as Replayer from '../src/replay/replayer';
import type { PassStats } from '../src/replay/replayer';
import type { ReplayOrder } from '../src/replay/ordered-rows';
import { CSV_HEADER } from '../src/tick';
import { countTopicRecords, probeKafka } from './bench/common';
import { expectedRows } from './bench/verify';

interface RunResult {
  /** Records in the topic plus dead letters, counted by reading them. */
  rows: number;
  /** Records in the topic, counted by reading it. */
  produced: number;
  /** Records in the dead-letter topic, counted by reading it. */
  rejected: number;
  /** The replay's own counters, for comparison. */
  reported: { produced: number; rejected: number };
  /** Sum of the topic's end offsets (records and transaction markers). */
  end_offsets: string;
  seconds: number;
  rows_per_s: number;
  cpu_s: number;
  peak_rss_mb: number;
  stats?: PassStats;
  topics: string[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function benchConfig(): TicklakeConfig {
  const id = `bench-produce-${randomBytes(3).toString('hex')}`;
  return loadConfig({
    ...process.env,
    KAFKA_TOPIC: id,
    KAFKA_DLQ_TOPIC: `${id}.dlq`,
    KAFKA_POSITIONS_TOPIC: `${id}.positions`,
  });
}

/**
 * The replay engine as the worker runs it: compiled, from dist/ (`npm run bench:produce` builds it when a
 * source is newer), so the feed thread loads JavaScript as it does in the worker, not TypeScript through tsx.
 */
function compiled<T>(module: string): T {
  // A path known only at run time, outside the TypeScript sources: a plain require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.resolve(__dirname, '..', 'dist', module)) as T;
}

/** Child: one replay at full speed, then one JSON line on stdout. */
async function child(file: string, order: ReplayOrder, compression: 'gzip' | 'none'): Promise<void> {
  const adapter = compiled<typeof KafkaAdapter>('src/adapters/kafka');
  const { ProducerPool } = compiled<typeof ProducerPoolModule>('src/replay/producer-pool');
  const { runReplay } = compiled<typeof Replayer>('src/replay/replayer');
  const config = benchConfig();
  const kafka = adapter.createKafka(config.kafka, '-bench');
  const admin = kafka.admin();
  await admin.connect();
  const topics = [config.kafka.topic, config.kafka.dlqTopic, config.kafka.positionsTopic];
  await adapter.ensureTopics(admin, config.kafka, topics);
  const producers = new ProducerPool(config.kafka);
  let stats: PassStats | undefined;
  try {
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    const p = await runReplay(
      { kafka, producers },
      {
        replayId: config.kafka.topic,
        file,
        topic: config.kafka.topic,
        dlqTopic: config.kafka.dlqTopic,
        positionsTopic: config.kafka.positionsTopic,
        speed: { mode: 'max' },
        order,
        loop: false,
        compression,
      },
      {
        signal: new AbortController().signal,
        progress: () => undefined,
        log: { info: () => undefined, warn: (m, meta) => console.error(m, meta) },
        stats: (s) => (stats = s),
      },
    );
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rows = p.produced + p.rejected;
    // Counted from the topics by the parent; the replay's counters only until then.
    const result: RunResult = {
      rows,
      produced: p.produced,
      rejected: p.rejected,
      reported: { produced: p.produced, rejected: p.rejected },
      end_offsets: '',
      topics,
      seconds: round(seconds, 2),
      rows_per_s: Math.round(rows / seconds),
      cpu_s: round((cpu.user + cpu.system) / 1e6, 2),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      stats,
    };
    console.log(JSON.stringify(result));
  } catch (err) {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    throw err;
  } finally {
    await producers.closeAll();
    await admin.disconnect();
  }
}

/**
 * Replaces a run's row counts by what its topics hold, checks them against the file, and deletes the
 * topics. `expected` is the file's valid and invalid rows, when known.
 */
async function countFromTopics(r: RunResult, expected?: { valid: number; invalid: number }): Promise<RunResult> {
  const kafka = probeKafka(loadConfig().kafka, 'bench-count');
  const [topic, dlq] = r.topics;
  try {
    const counted = await countTopicRecords(kafka, topic);
    const dead = await countTopicRecords(kafka, dlq);
    const rows = counted.records + dead.records;
    const out = {
      ...r,
      rows,
      produced: counted.records,
      rejected: dead.records,
      end_offsets: counted.endOffsets.toString(),
      rows_per_s: Math.round(rows / r.seconds),
    };
    const problems: string[] = [];
    if (counted.records !== r.reported.produced) {
      problems.push(`the topic holds ${counted.records} records, the replay reported ${r.reported.produced}`);
    }
    if (dead.records !== r.reported.rejected) {
      problems.push(`the dead-letter topic holds ${dead.records} records, the replay reported ${r.reported.rejected}`);
    }
    if (expected && (counted.records !== expected.valid || dead.records !== expected.invalid)) {
      problems.push(
        `the file has ${expected.valid} valid and ${expected.invalid} invalid rows; the topics hold ` +
          `${counted.records} records and ${dead.records} dead letters`,
      );
    }
    if (problems.length > 0) throw new Error(`bench:produce counted wrong: ${problems.join('; ')}`);
    return out;
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: r.topics })
      .catch((err: unknown) => console.error(`could not delete the bench topics: ${String(err)}`));
    await admin.disconnect();
  }
}

function round(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}

function runChild(file: string, order: string, compression: string): RunResult {
  const r = spawnSync(
    process.execPath,
    ['--require', 'tsx/cjs', __filename, '--child', file, '--order', order, '--compression', compression],
    {
      cwd: path.resolve(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const last = r.stdout.toString().trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    throw new Error(`the replay of ${file} failed (exit ${r.status ?? r.signal}); its output: ${r.stdout.toString()}`);
  }
  return JSON.parse(last) as RunResult;
}

/**
 * A file of the indexProcessed.csv schema with `rows` valid rows, grouped by symbol like the real file
 * (so it has one ascending run per symbol), written as a stream. Deterministic.
 */
async function generate(file: string, rows: number): Promise<void> {
  const symbols = 50;
  const perSymbol = Math.ceil(rows / symbols);
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const out = fs.createWriteStream(file);
  let failed: Error | undefined;
  out.on('error', (err) => (failed = err));
  const write = async (text: string) => {
    if (failed) throw failed;
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  await write(`${CSV_HEADER.join(',')}\n`);
  let written = 0;
  for (let s = 0; s < symbols && written < rows; s++) {
    const symbol = `SYM${String(s).padStart(2, '0')}.X`;
    let price = 1000 + 9000 * rand();
    const day = new Date(Date.UTC(1700, 0, 1));
    let lines: string[] = [];
    for (let i = 0; i < perSymbol && written < rows; i++, written++) {
      do day.setUTCDate(day.getUTCDate() + 1);
      while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
      const open = price;
      const close = Math.max(1, price * (1 + (rand() - 0.5) * 0.04));
      const high = Math.max(open, close) * (1 + rand() * 0.01);
      const low = Math.min(open, close) * (1 - rand() * 0.01);
      const volume = Math.floor(rand() * 5e9);
      lines.push(
        `${symbol},${day.toISOString().slice(0, 10)},${open.toFixed(6)},${high.toFixed(6)},${low.toFixed(6)},${close.toFixed(6)},` +
          `${close.toFixed(6)},${volume}.0,${(close * 0.13).toFixed(8)}`,
      );
      price = close;
      if (lines.length === 10_000) {
        await write(`${lines.join('\n')}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) await write(`${lines.join('\n')}\n`);
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  if (failed) throw failed;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const order = (arg('order') ?? 'file') as ReplayOrder;
  const compression = (arg('compression') ?? 'gzip') as 'gzip' | 'none';
  if (process.argv.includes('--child')) return child(arg('child')!, order, compression);

  const real = process.env.TICKLAKE_REAL_CSV;
  if (!real || !fs.existsSync(real)) {
    throw new Error(
      'TICKLAKE_REAL_CSV must name the real indexProcessed.csv (for example ../shared/data/stock-exchange/indexProcessed.csv)',
    );
  }
  // Fails fast with the broker's address when the local services are not up.
  const probe = createKafka(loadConfig().kafka, '-bench').admin();
  await probe.connect();
  await probe.disconnect();

  const runs = Number(arg('runs') ?? 3);
  console.log(
    `replaying ${real} at full speed, ${runs} run(s), ${order} order, ${compression}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const expected = expectedRows(fs.readFileSync(real, 'utf8'), path.basename(real));
  const fileRows = { valid: expected.rows.length, invalid: expected.skipped };
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await countFromTopics(runChild(path.resolve(real), order, compression), fileRows);
    results.push(r);
    const s = r.stats;
    console.log(
      `  run ${i + 1}: ${r.rows} rows in ${r.seconds} s = ${r.rows_per_s} rows/s, CPU ${r.cpu_s} s (${Math.round((r.cpu_s * 1e6) / r.rows)} us/row), ` +
        `peak RSS ${r.peak_rss_mb} MB; counted in the topic: ${r.produced} records (end offsets ${r.end_offsets})` +
        (s
          ? `; waited ${s.feedWaitMs} ms for rows, ${s.commitWaitMs} ms for Kafka, ${s.transactions} transactions`
          : ''),
    );
  }
  const summary: Record<string, unknown> = {
    rows: results[0].rows,
    rows_counted_in_topic: true,
    rows_per_s: Math.round(median(results.map((r) => r.rows_per_s))),
    peak_rss_mb: Math.max(...results.map((r) => r.peak_rss_mb)),
    runs_rows_per_s: results.map((r) => r.rows_per_s),
    cpu_us_per_row: Math.round(median(results.map((r) => (r.cpu_s * 1e6) / r.rows))),
    order,
    compression,
    load_average: round(os.loadavg()[0], 1),
  };

  if (!process.argv.includes('--skip-5m')) {
    const rows5m = Number(arg('rows-5m') ?? 5_000_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-produce-'));
    const big = path.join(dir, 'generated.csv');
    try {
      const t = Date.now();
      await generate(big, rows5m);
      console.log(
        `generated ${rows5m} rows (${Math.round(fs.statSync(big).size / 1e6)} MB) in ${((Date.now() - t) / 1000).toFixed(1)} s; replaying it`,
      );
      const r = await countFromTopics(runChild(big, order, compression), { valid: rows5m, invalid: 0 });
      console.log(
        `  ${r.rows} rows in ${r.seconds} s = ${r.rows_per_s} rows/s, CPU ${r.cpu_s} s, peak RSS ${r.peak_rss_mb} MB`,
      );
      Object.assign(summary, { rows_5m: r.rows, rows_per_s_5m: r.rows_per_s, peak_rss_mb_5m: r.peak_rss_mb });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify(summary));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  },
);

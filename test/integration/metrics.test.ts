/** The worker's Prometheus endpoint: the SDK's metrics and ours, growing while a replay runs. */
import path from 'node:path';
import { REPO_ROOT } from '../../src/config';
import { portFree } from '../../src/metrics';
import { startReplay, startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';

async function freePort(): Promise<number> {
  for (let port = 19_500 + Math.floor(Math.random() * 400); ; port++) if (await portFree(port)) return port;
}

function counter(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('worker metrics', () => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    h = await startHarness(uniqueConfig('metrics', { TICKLAKE_METRICS_PORT: String(port) }));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('shows our counters increasing during a replay', async () => {
    const scrape = async () => (await fetch(url)).text();
    expect(await scrape()).toMatch(/^temporal_/m);
    await startSink(h.client, h.config);
    const replay = await startReplay(h.client, h.config, {
      file: path.join(REPO_ROOT, 'data', 'sample.csv'),
      replayId: `metrics-${h.config.kafka.topic}`,
      speed: { mode: 'rows', rowsPerSecond: 800 },
    });
    const first = await waitFor('rows produced to show', async () => {
      const n = counter(await scrape(), 'ticklake_rows_produced');
      return n > 0 ? n : undefined;
    });
    const later = await waitFor('rows produced to grow', async () => {
      const n = counter(await scrape(), 'ticklake_rows_produced');
      return n > first ? n : undefined;
    });
    expect(later).toBeGreaterThan(first);
    await replay.result();
    await waitForSinkCaughtUp(h.config, 60_000);
    const text = await waitFor('records sunk to show', async () => {
      const t = await scrape();
      return counter(t, 'ticklake_records_sunk') > 0 ? t : undefined;
    });
    expect(counter(text, 'ticklake_sink_files')).toBeGreaterThan(0);
    expect(counter(text, 'ticklake_sink_bytes')).toBeGreaterThan(0);
  }, 120_000);
});

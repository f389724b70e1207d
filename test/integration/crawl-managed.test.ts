/**
 * Managed mode (CRAWLER_MODE=managed) against the local moto Glue endpoint. moto does not scan S3:
 * what is checked is the crawler definition ticklake creates and updates, and the run's state
 * transitions that moto supports (RUNNING, then COMPLETED and the crawler READY again).
 */
import {
  DeleteCrawlerCommand,
  DeleteDatabaseCommand,
  GetCrawlerCommand,
  ListCrawlsCommand,
} from '@aws-sdk/client-glue';
import { randomBytes } from 'node:crypto';
import { createAwsClients } from '../../src/adapters/aws';
import { ConfigError, loadConfig } from '../../src/config';
import { runCrawl } from '../../src/pipeline';
import { startHarness, uniqueConfig, type Harness } from './support';

describe('managed Glue crawler mode', () => {
  const crawlerName = `ticklake-test-${randomBytes(3).toString('hex')}`;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      uniqueConfig('managed', {
        CRAWLER_MODE: 'managed',
        GLUE_CRAWLER_ROLE: 'arn:aws:iam::123456789012:role/ticklake-crawler',
        GLUE_CRAWLER_NAME: crawlerName,
      }),
    );
  }, 120_000);
  afterAll(async () => {
    const { glue } = createAwsClients(h.config.aws);
    await glue.send(new DeleteCrawlerCommand({ Name: crawlerName })).catch(() => undefined);
    await glue.send(new DeleteDatabaseCommand({ Name: h.config.glue.database })).catch(() => undefined);
    await h?.close();
  });

  it('needs a role', () => {
    expect(() => loadConfig({ ...process.env, CRAWLER_MODE: 'managed', GLUE_CRAWLER_ROLE: '' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...process.env, CRAWLER_MODE: 'managed' })).toThrow(/GLUE_CRAWLER_ROLE/);
    expect(() => loadConfig({ ...process.env, CRAWLER_MODE: 'glue' })).toThrow(
      /CRAWLER_MODE must be 'own' or 'managed'/,
    );
  });

  it('creates the crawler with CRAWL_NEW_FOLDERS_ONLY, runs it to completion, and updates it when the config changes', async () => {
    const { glue } = createAwsClients(h.config.aws);
    const r = await runCrawl(h.client, h.config);
    expect(r.scan).toBe('managed');
    expect(r.managed).toMatchObject({
      crawlerName,
      created: true,
      updated: [],
      outcome: 'succeeded',
      state: 'COMPLETED',
    });
    expect(r.managed!.observedStates).toEqual(['RUNNING', 'READY']);

    const c = (await glue.send(new GetCrawlerCommand({ Name: crawlerName }))).Crawler!;
    expect(c).toMatchObject({
      Role: 'arn:aws:iam::123456789012:role/ticklake-crawler',
      DatabaseName: h.config.glue.database,
      Targets: { S3Targets: [{ Path: `s3://${h.config.lake.bucket}/${h.config.lake.prefix}ticks/` }] },
      RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
      SchemaChangePolicy: { UpdateBehavior: 'LOG', DeleteBehavior: 'LOG' },
      State: 'READY',
    });
    expect(JSON.parse(c.Configuration!)).toMatchObject({
      CrawlerOutput: { Partitions: { AddOrUpdateBehavior: 'InheritFromTable' } },
    });
    expect(c.LastCrawl?.Status).toBe('COMPLETED');

    // A second run with another role updates the crawler (moto has no UpdateCrawler: there it is
    // recreated, hence a single crawl in its history).
    const changed = loadConfig({
      ...process.env,
      CRAWLER_MODE: 'managed',
      GLUE_CRAWLER_ROLE: 'ticklake-crawler-2',
      GLUE_CRAWLER_NAME: crawlerName,
      LAKE_BUCKET: h.config.lake.bucket,
      GLUE_DATABASE: h.config.glue.database,
      TICKLAKE_TASK_QUEUE: h.config.temporal.taskQueue,
      KAFKA_TOPIC: h.config.kafka.topic,
    });
    const again = await runCrawl(h.client, changed);
    expect(again.managed).toMatchObject({ created: false, updated: ['Role'], outcome: 'succeeded' });
    expect((await glue.send(new GetCrawlerCommand({ Name: crawlerName }))).Crawler?.Role).toBe('ticklake-crawler-2');
    const crawls = (await glue.send(new ListCrawlsCommand({ CrawlerName: crawlerName }))).Crawls ?? [];
    expect(crawls.map((x) => x.State)).toEqual(['COMPLETED']);
  });

  it('fails fast on a missing bucket', async () => {
    const missing = loadConfig({
      ...process.env,
      CRAWLER_MODE: 'managed',
      GLUE_CRAWLER_ROLE: 'r',
      GLUE_CRAWLER_NAME: `${crawlerName}-x`,
      LAKE_BUCKET: `${h.config.lake.bucket}-none`.slice(0, 63),
      GLUE_DATABASE: `${h.config.glue.database}_x`,
      TICKLAKE_TASK_QUEUE: h.config.temporal.taskQueue,
    });
    await expect(runCrawl(h.client, missing)).rejects.toMatchObject({ cause: { type: 'MissingBucket' } });
  });
});

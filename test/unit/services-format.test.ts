import './support/default-ports';
import type { ServiceStatus } from '../../src/services/definitions';
import {
  abbreviateCommand,
  displayPath,
  renderProblem,
  renderStatusTable,
  statusJson,
} from '../../src/services/format';

const running: ServiceStatus = {
  name: 'temporal',
  state: 'running',
  pid: 4242,
  address: '127.0.0.1:7233',
  url: 'http://127.0.0.1:8233',
  logFile: '/repo/.data/logs/temporal.log',
  stateDir: '/repo/.data/temporal',
  version: '1.9.1',
  installed: true,
};

const stopped: ServiceStatus = {
  name: 'kafka',
  state: 'stopped',
  address: '127.0.0.1:9092',
  logFile: '/elsewhere/logs/kafka.log',
  stateDir: '/elsewhere/kafka',
  version: '3.9.1',
  installed: true,
};

describe('renderStatusTable', () => {
  it('shows service, state, address, log and pid, with logs relative to the working directory', () => {
    const table = renderStatusTable([running, stopped], '/repo');
    const lines = table.split('\n');
    expect(lines[1]).toMatch(/service\s+│\s+state\s+│\s+address\s+│\s+log\s+│\s+pid/);
    expect(table).not.toContain('note');
    const temporalRow = lines.find((l) => l.includes('temporal'))!;
    expect(temporalRow).toMatch(
      /running\s+│\s+127\.0\.0\.1:7233 \(UI http:\/\/127\.0\.0\.1:8233\)\s+│\s+\.data\/logs\/temporal\.log\s+│\s+4242/,
    );
    const kafkaRow = lines.find((l) => l.includes('kafka'))!;
    expect(kafkaRow).toMatch(/stopped\s+│\s+127\.0\.0\.1:9092\s+│\s+\/elsewhere\/logs\/kafka\.log\s+│\s+-/);
  });

  it('adds a note column when a service has something to say', () => {
    const table = renderStatusTable(
      [
        { ...running, started: true },
        { ...stopped, detail: 'port 9092 in use by another process (pid 7)' },
        { ...stopped, name: 'moto', installed: false },
      ],
      '/repo',
    );
    expect(table).toContain('note');
    expect(table).toMatch(/temporal.*started/);
    expect(table).toMatch(/kafka.*port 9092 in use by another process \(pid 7\)/);
    expect(table).toMatch(/moto.*not installed/);
  });
});

describe('statusJson', () => {
  it('prints every field, with null for absent ones', () => {
    expect(JSON.parse(statusJson([running, stopped]))).toEqual([
      {
        name: 'temporal',
        state: 'running',
        pid: 4242,
        address: '127.0.0.1:7233',
        url: 'http://127.0.0.1:8233',
        log: '/repo/.data/logs/temporal.log',
        stateDir: '/repo/.data/temporal',
        version: '1.9.1',
        installed: true,
        detail: null,
      },
      {
        name: 'kafka',
        state: 'stopped',
        pid: null,
        address: '127.0.0.1:9092',
        url: null,
        log: '/elsewhere/logs/kafka.log',
        stateDir: '/elsewhere/kafka',
        version: '3.9.1',
        installed: true,
        detail: null,
      },
    ]);
  });
});

describe('renderProblem', () => {
  it('prints one error line and indents the supporting lines under it', () => {
    expect(renderProblem({ message: 'kafka: exited with code 1 while starting', details: ['first', 'second'] })).toBe(
      'error: kafka: exited with code 1 while starting\n    | first\n    | second',
    );
    expect(renderProblem({ message: 's3: port 9000 is in use', details: [] })).toBe('error: s3: port 9000 is in use');
  });
});

describe('displayPath', () => {
  it('shortens paths inside the working directory only', () => {
    expect(displayPath('/repo/.data/logs/s3.log', '/repo')).toBe('.data/logs/s3.log');
    expect(displayPath('/repository/x.log', '/repo')).toBe('/repository/x.log');
    expect(displayPath('/tmp/x.log', '/repo')).toBe('/tmp/x.log');
    expect(displayPath('/repo', '/repo')).toBe('/repo');
  });
});

describe('abbreviateCommand', () => {
  it('keeps short command lines whole', () => {
    expect(abbreviateCommand('python3 -m http.server 9000')).toBe('python3 -m http.server 9000');
  });

  it('keeps the program name and the end of long ones, where the paths are', () => {
    const cmd = `/usr/lib/jvm/bin/java -Xmx1g ${'-Dx=y '.repeat(30)}-cp /c/libs/* kafka.Kafka /tmp/run/data/kafka/server.properties`;
    const short = abbreviateCommand(cmd, 80);
    expect(short.length).toBeLessThanOrEqual(80);
    expect(short.startsWith('java … ')).toBe(true);
    expect(short.endsWith('kafka.Kafka /tmp/run/data/kafka/server.properties')).toBe(true);
  });
});

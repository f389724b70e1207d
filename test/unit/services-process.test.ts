import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  OutputTail,
  findPortOwner,
  formatCommand,
  isAlive,
  isPortOpen,
  lastLines,
  parsePid,
  rotateLog,
  tailFile,
  withFileLock,
} from '../../src/services/process';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-services-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('lastLines', () => {
  it('returns the last lines without trailing blank ones', () => {
    expect(lastLines('a\nb\r\nc\n\n\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('only', 5)).toEqual(['only']);
    expect(lastLines('', 3)).toEqual([]);
    expect(lastLines('a\nb', 0)).toEqual([]);
  });
});

describe('parsePid', () => {
  it('accepts one positive integer, with whitespace', () => {
    expect(parsePid('1234\n')).toBe(1234);
    expect(parsePid('  77 ')).toBe(77);
  });

  it('rejects anything else, and pids 0 and 1', () => {
    for (const bad of ['', 'abc', '12 34', '-5', '1.5', '0', '1', '99999999999999999999']) {
      expect(parsePid(bad)).toBeUndefined();
    }
  });
});

describe('OutputTail', () => {
  it('keeps a bounded tail of what is pushed', () => {
    const tail = new OutputTail(100);
    for (let i = 0; i < 1000; i++) tail.push(`line ${i}\n`);
    expect(tail.lines(2)).toEqual(['line 998', 'line 999']);
    expect(tail.lines(1000).length).toBeLessThanOrEqual(100 / 'line 999\n'.length + 1);
  });
});

describe('formatCommand', () => {
  it('quotes what a shell would split or expand', () => {
    expect(formatCommand({ command: 'pip', args: ['install', 'moto[server]==5.2.5'] })).toBe(
      "pip install 'moto[server]==5.2.5'",
    );
    expect(formatCommand({ command: 'go', args: ['install', 'x@v1'], env: { GOBIN: '/a b' } })).toBe(
      "GOBIN='/a b' go install x@v1",
    );
    expect(formatCommand({ command: 'echo', args: ["it's"] })).toBe(`echo 'it'\\''s'`);
  });
});

describe('tailFile', () => {
  it('reads the end of a file, and nothing for a missing one', () => {
    const file = path.join(tmp, 'x.log');
    fs.writeFileSync(file, Array.from({ length: 50_000 }, (_, i) => `line ${i}`).join('\n'));
    expect(tailFile(file, 3)).toEqual(['line 49997', 'line 49998', 'line 49999']);
    expect(tailFile(path.join(tmp, 'missing.log'), 3)).toEqual([]);
  });
});

describe('rotateLog', () => {
  it('moves a log past the limit to .1, replacing the previous one, and leaves smaller logs alone', () => {
    const log = path.join(tmp, 's3.log');
    fs.writeFileSync(`${log}.1`, 'older');
    fs.writeFileSync(log, 'small');
    rotateLog(log, 10);
    expect(fs.readFileSync(log, 'utf8')).toBe('small');
    fs.writeFileSync(log, 'x'.repeat(11));
    rotateLog(log, 10);
    expect(fs.existsSync(log)).toBe(false);
    expect(fs.readFileSync(`${log}.1`, 'utf8')).toBe('x'.repeat(11));
    expect(() => rotateLog(path.join(tmp, 'missing.log'), 10)).not.toThrow();
  });
});

describe('isAlive', () => {
  it('knows this process is alive and an unused pid is not', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(2 ** 22 + 12345)).toBe(false);
  });
});

describe('withFileLock', () => {
  it('runs callers one at a time and removes the lock afterwards', async () => {
    const lock = path.join(tmp, 'run', 'x.lock');
    const events: string[] = [];
    const critical = (id: string) => async () => {
      events.push(`${id} in`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      events.push(`${id} out`);
    };
    await Promise.all([withFileLock(lock, 5000, critical('a')), withFileLock(lock, 5000, critical('b'))]);
    expect(events).toHaveLength(4);
    expect(events[0].split(' ')[0]).toBe(events[1].split(' ')[0]);
    expect(events[2].split(' ')[0]).toBe(events[3].split(' ')[0]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('takes over a lock left by a process that died', async () => {
    const lock = path.join(tmp, 'x.lock');
    fs.writeFileSync(lock, `${2 ** 22 + 12345}\n`);
    await expect(withFileLock(lock, 1000, () => Promise.resolve('ran'))).resolves.toBe('ran');
  });

  it('gives up when a live process holds it past the timeout', async () => {
    const lock = path.join(tmp, 'x.lock');
    fs.writeFileSync(lock, `${process.ppid}\n`);
    await expect(withFileLock(lock, 300, () => Promise.resolve('ran'))).rejects.toThrow(
      `lock ${lock} is held by process ${process.ppid}`,
    );
  });

  it('releases the lock when the callback fails', async () => {
    const lock = path.join(tmp, 'x.lock');
    await expect(withFileLock(lock, 1000, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(fs.existsSync(lock)).toBe(false);
  });
});

describe('isPortOpen and findPortOwner', () => {
  it('see a listening socket and the process that owns it', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      expect(await isPortOpen(port)).toBe(true);
      if (fs.existsSync('/proc/net/tcp')) expect(findPortOwner(port)?.pid).toBe(process.pid);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await isPortOpen(port)).toBe(false);
    expect(findPortOwner(port)).toBeUndefined();
  });
});

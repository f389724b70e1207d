/**
 * Operating-system plumbing for the service manager: detached processes, pid files, locks, port
 * probes, captured commands and log tails. Linux first; where /proc is missing (macOS) the checks
 * fall back to `ps` or to weaker answers, never to wrong ones.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '../concurrency';
import type { CommandSpec, LaunchSpec } from './definitions';

/** Waits until a condition holds (true) or `timeoutMs` passes (false); services/index.ts uses it too. */
export { waitUntil };

// ---------------------------------------------------------------------------------------------
// Text helpers (pure)

/** The last `count` non-empty lines of `text`, without trailing whitespace. */
export function lastLines(text: string, count: number): string[] {
  if (count <= 0) return [];
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count);
}

/** The pid in a pid file's content, or undefined when it holds anything but one positive integer. */
export function parsePid(content: string): number | undefined {
  const trimmed = content.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** Keeps the last `limit` characters written to it: bounded memory for a command's output. */
export class OutputTail {
  private text = '';

  constructor(private readonly limit = 64 * 1024) {}

  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }

  lines(count: number): string[] {
    return lastLines(this.text.slice(-this.limit), count);
  }
}

// ---------------------------------------------------------------------------------------------
// Files

/** The last `count` lines of a file (reading at most its last 64 KiB); empty when it does not exist. */
export function tailFile(file: string, count: number): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    return lastLines(buffer.toString('utf8'), count);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    return parsePid(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${pid}\n`);
  fs.renameSync(tmp, file);
}

export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Writes a file through a temporary name, so readers never see half of it. */
export function writeFileAtomic(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Processes

/** True when a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "pid (comm) S ...": a zombie has exited and only waits to be reaped.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The command line of a process, arguments joined by spaces; undefined when it cannot be read. */
export function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // No /proc (macOS), or the process is gone.
  }
  try {
    return (
      execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function workingDirectory(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and is the process we started (its command line contains `marker`). */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLine(pid);
  // When the command line cannot be read, trust the pid file rather than declare a live service dead.
  return cmd === undefined || cmd.includes(marker);
}

/**
 * Starts a long-running process in its own session, detached from the caller, with stdout and
 * stderr appended to `logFile`. The process outlives the caller; the returned handle is unref'd
 * and only used to notice an early exit while the caller is still waiting for it.
 */
export function spawnDetached(spec: LaunchSpec, logFile: string): ChildProcess {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.mkdirSync(spec.cwd, { recursive: true });
  rotateLog(logFile);
  const fd = fs.openSync(logFile, 'a');
  try {
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} starting: ${[spec.command, ...spec.args].join(' ')}\n`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/** Beyond this size a log is moved to `<file>.1` (replacing the previous one) when its service starts. */
export const LOG_ROTATE_BYTES = 32 * 1024 * 1024;

/** Keeps one previous log, so logs stay bounded across many restarts. */
export function rotateLog(logFile: string, maxBytes = LOG_ROTATE_BYTES): void {
  try {
    if (fs.statSync(logFile).size > maxBytes) fs.renameSync(logFile, `${logFile}.1`);
  } catch {
    // No log yet.
  }
}

export type TerminateOutcome = 'not-running' | 'terminated' | 'killed';

/**
 * Stops a process and its process group: SIGTERM, then SIGKILL when it is still alive after
 * `timeoutMs`. With `force`, SIGKILL at once (what a crash looks like to the service's clients).
 */
export async function terminate(pid: number, timeoutMs: number, force = false): Promise<TerminateOutcome> {
  if (!isAlive(pid)) return 'not-running';
  if (!force) {
    signalGroup(pid, 'SIGTERM');
    if (await waitUntil(() => !isAlive(pid), timeoutMs, 100)) return 'terminated';
  }
  signalGroup(pid, 'SIGKILL');
  if (await waitUntil(() => !isAlive(pid), 10_000, 50)) return 'killed';
  throw new Error(`process ${pid} is still alive after SIGKILL`);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Detached processes lead their own group; the group includes anything they forked.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

/** Whether a program is on PATH (or, given with a slash, exists and is executable). */
export function onPath(command: string): boolean {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  return candidates.some((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

export interface CapturedResult {
  /** Exit code, or undefined when killed by a signal or when it could not start. */
  code: number | undefined;
  signal: NodeJS.Signals | undefined;
  /** Why it could not start (ENOENT...), if so. */
  spawnError?: Error;
  timedOut: boolean;
  output: OutputTail;
}

/** Runs a command to completion with stdout and stderr captured together (bounded), optionally copied to a file. */
export function runCaptured(
  spec: CommandSpec,
  options: { timeoutMs?: number; logFile?: string } = {},
): Promise<CapturedResult> {
  return new Promise((resolve) => {
    const output = new OutputTail();
    if (options.logFile) fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    // A log that cannot be written must not take the caller down; the output tail is still kept.
    log?.on('error', () => undefined);
    let timedOut = false;
    let spawnError: Error | undefined;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (chunk: Buffer) => {
      output.push(chunk);
      log?.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const done = () =>
        resolve({ code: code ?? undefined, signal: signal ?? undefined, spawnError, timedOut, output });
      if (log) log.end(done);
      else done();
    });
  });
}

/** A command line as a user would type it, for messages. */
export function formatCommand(spec: CommandSpec): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${quote(v)}`);
  return [...env, spec.command, ...spec.args].map((part, i) => (i < env.length ? part : quote(part))).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Network

/** Whether something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const finish = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export interface PortOwner {
  pid: number;
  commandLine?: string;
  /** Its working directory, when readable. */
  cwd?: string;
}

/**
 * The process listening on a TCP port, found through /proc (Linux only; undefined elsewhere or
 * when the socket belongs to a process we may not inspect). Only used to make errors specific.
 */
export function findPortOwner(port: number): PortOwner | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "HEXIP:HEXPORT"; state 0A is LISTEN; field 9 is the socket inode.
      if (fields.length < 10 || fields[3] !== '0A') continue;
      const localPort = parseInt(fields[1].split(':')[1] ?? '', 16);
      if (localPort === port && fields[9] !== '0') inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1])) {
        return { pid: Number(pid), commandLine: commandLine(Number(pid)), cwd: workingDirectory(Number(pid)) };
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Locks

/**
 * Runs `fn` while holding an exclusive lock file (created with O_EXCL, holding our pid). A lock
 * left by a process that died is taken over. Waits up to `timeoutMs` for a live holder.
 */
export async function withFileLock<T>(
  lockFile: string,
  timeoutMs: number,
  fn: () => Promise<T>,
  onWait?: (holderPid: number) => void,
): Promise<T> {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let reportedWait = false;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPidFile(lockFile);
    if (holder !== undefined && holder !== process.pid && !isAlive(holder)) {
      // The holder died while holding it.
      removeFile(lockFile);
      continue;
    }
    if (holder === undefined) {
      // Just created, pid not yet written; or garbage. Give a writer a moment, then take over.
      const age = Date.now() - safeMtime(lockFile);
      if (age > 5000) removeFile(lockFile);
    }
    if (Date.now() > deadline) {
      throw new LockTimeoutError(lockFile, holder);
    }
    if (!reportedWait && holder !== undefined && onWait) {
      reportedWait = true;
      onWait(holder);
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    removeFile(lockFile);
  }
}

function safeMtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';

  constructor(
    readonly lockFile: string,
    readonly holderPid: number | undefined,
  ) {
    super(`lock ${lockFile} is held by process ${holderPid ?? '?'}`);
  }
}

/**
 * A stack of services of a test's own (a port offset and a temporary data dir), for tests that stop and
 * restart services or kill workers: its services command, worker processes with their logs in the data
 * dir, and the small waits such tests need.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/config';

const run = promisify(execFile);

export interface OwnStack {
  dataDir: string;
  /** The environment of the stack: its port offset and data dir. */
  env: NodeJS.ProcessEnv;
  /** `npm run services -- <args>` on the stack. */
  services(...args: string[]): Promise<void>;
  /** A worker process (`src/worker-main.ts`) with this environment, logging to `<data dir>/worker-<n>.log`. */
  startWorker(env: NodeJS.ProcessEnv): ChildProcess;
}

export function ownStack(label: string, offset: number): OwnStack {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `ticklake-${label}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TICKLAKE_PORT_OFFSET: String(offset),
    TICKLAKE_DATA_DIR: dataDir,
    TICKLAKE_METRICS_PORT: '0',
  };
  let workers = 0;
  return {
    dataDir,
    env,
    async services(...args: string[]) {
      await run(process.execPath, ['--import', 'tsx', 'scripts/services.ts', ...args], {
        cwd: REPO_ROOT,
        env,
        timeout: 240_000,
      });
    },
    startWorker(workerEnv: NodeJS.ProcessEnv) {
      const log = fs.openSync(path.join(dataDir, `worker-${++workers}.log`), 'a');
      return spawn(process.execPath, ['--import', 'tsx', 'src/worker-main.ts'], {
        cwd: REPO_ROOT,
        env: workerEnv,
        stdio: ['ignore', log, log],
      });
    },
  };
}

/** Resolves when the process has exited (at once if it has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

export const randomMs = (min: number, max: number) => Math.round(min + Math.random() * (max - min));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

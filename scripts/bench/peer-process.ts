/**
 * The peer's processes for `npm run bench:peers`: a Kafka Connect standalone worker (REST on
 * 127.0.0.1 only) and the Iceberg table tool (scripts/bench/peer/IcebergLake.java, compiled with
 * javac into a temporary directory at bench time).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/config';
import { ensurePackage } from '../../src/services/install';
import { cpuSeconds, listening, statusKb, waitFor } from './common';
import {
  PEER_NAME,
  PEER_VERSIONS,
  connectCommand,
  connectorRunning,
  parseConnectorStatus,
  peerInstallDir,
  peerInstallPlan,
  peerLayout,
  renderConnectLog4j,
  renderProperties,
  renderWorkerProperties,
  type ConnectorStatus,
} from './iceberg-peer';

const run = promisify(execFile);

/** Installs the peer into the shared cache (once per version; concurrent callers wait); returns its directory. */
export function installPeer(cacheDir: string, onProgress?: (m: string) => void): Promise<string> {
  return ensurePackage(
    {
      installDir: peerInstallDir(cacheDir),
      title: PEER_NAME,
      version: `${PEER_VERSIONS.iceberg} (Kafka Connect ${PEER_VERSIONS.connect})`,
      source: `Maven Central org.apache.iceberg:iceberg-kafka-connect:${PEER_VERSIONS.iceberg}, org.apache.kafka:connect-runtime:${PEER_VERSIONS.connect}`,
      plan: peerInstallPlan,
      error: (kind, message, details = []) =>
        new Error(`bench:peers (${kind}): ${message}${details.length ? `\n${details.join('\n')}` : ''}`),
    },
    cacheDir,
    { onProgress },
  );
}

/** The environment the peer's JVMs get: the local credentials for the Glue client, no EC2 metadata lookups. */
export function peerEnv(credentials: { accessKeyId: string; secretAccessKey: string }, region: string) {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** A Kafka Connect standalone worker in a child process; its log goes to `<dir>/connect.log`. */
export class ConnectWorker {
  private exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly restPort: number,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(opts: {
    installDir: string;
    dir: string;
    bootstrapServers: string;
    restPort: number;
    offsetFlushIntervalMs: number;
    env: NodeJS.ProcessEnv;
  }): Promise<ConnectWorker> {
    if (listening(opts.restPort)) {
      throw new Error(
        `port ${opts.restPort} (Kafka Connect REST) on 127.0.0.1 is in use; stop what holds it or choose another --offset`,
      );
    }
    fs.mkdirSync(opts.dir, { recursive: true });
    const workerFile = path.join(opts.dir, 'worker.properties');
    const log4jFile = path.join(opts.dir, 'connect-log4j.properties');
    fs.writeFileSync(
      workerFile,
      renderProperties(
        renderWorkerProperties({
          bootstrapServers: opts.bootstrapServers,
          restPort: opts.restPort,
          offsetsFile: path.join(opts.dir, 'connect.offsets'),
          pluginPath: peerLayout(opts.installDir).pluginPath,
          offsetFlushIntervalMs: opts.offsetFlushIntervalMs,
        }),
        'Written by `npm run bench:peers`.',
      ),
    );
    fs.writeFileSync(log4jFile, renderConnectLog4j());
    const logFile = path.join(opts.dir, 'connect.log');
    const log = fs.openSync(logFile, 'a');
    const child = spawn('java', connectCommand(opts.installDir, workerFile, log4jFile), {
      cwd: opts.dir,
      env: opts.env,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const worker = new ConnectWorker(child, opts.restPort, logFile);
    await waitFor(
      `Kafka Connect's REST API on 127.0.0.1:${opts.restPort} (log ${logFile})`,
      async () => {
        if (!worker.alive) throw new Error(`the Connect worker exited; see ${logFile}`);
        const res = await fetch(`${worker.base}/connector-plugins`).catch(() => undefined);
        if (!res?.ok) return false;
        const plugins = (await res.json()) as { class: string }[];
        if (!plugins.some((p) => p.class === 'org.apache.iceberg.connect.IcebergSinkConnector')) {
          throw new Error(`Connect does not list the Iceberg sink among its plugins: ${JSON.stringify(plugins)}`);
        }
        return true;
      },
      300_000,
      500,
    );
    return worker;
  }

  get base(): string {
    return `http://127.0.0.1:${this.restPort}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  cpuSeconds(): number {
    const s = cpuSeconds(this.pid);
    if (s === undefined) throw new Error(`the Connect worker (pid ${this.pid}) is gone; see ${this.logFile}`);
    return s;
  }

  rssKb(): number {
    return statusKb(this.pid, 'VmRSS') ?? 0;
  }

  private async rest(method: string, route: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.base}${route}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, text: await res.text() };
  }

  /** Creates (or reconfigures) a connector. */
  async putConnector(name: string, config: Record<string, string>): Promise<void> {
    const res = await this.rest('PUT', `/connectors/${encodeURIComponent(name)}/config`, { ...config, name });
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`Connect refused connector ${name} (HTTP ${res.status}): ${res.text.slice(0, 500)}`);
    }
  }

  async status(name: string): Promise<ConnectorStatus | undefined> {
    const res = await this.rest('GET', `/connectors/${encodeURIComponent(name)}/status`);
    if (res.status === 404) return undefined;
    return parseConnectorStatus(res.text);
  }

  /** Throws when the connector or one of its tasks failed. */
  async check(name: string): Promise<boolean> {
    const s = await this.status(name);
    return s ? connectorRunning(s) : false;
  }

  async deleteConnector(name: string): Promise<void> {
    const res = await this.rest('DELETE', `/connectors/${encodeURIComponent(name)}`);
    if (res.status !== 204 && res.status !== 404) {
      throw new Error(`Connect did not delete connector ${name} (HTTP ${res.status}): ${res.text.slice(0, 300)}`);
    }
    await waitFor(`connector ${name} to be gone`, async () => (await this.status(name)) === undefined, 60_000, 200);
  }

  /** SIGTERM (Connect stops its connectors), then SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** scripts/bench/peer/IcebergLake.java, compiled against the peer's own jars. */
export class IcebergLakeTool {
  private calls = 0;

  private constructor(
    private readonly classPath: string,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async build(args: { installDir: string; dir: string; env: NodeJS.ProcessEnv }): Promise<IcebergLakeTool> {
    const layout = peerLayout(args.installDir);
    const classes = path.join(args.dir, 'classes');
    fs.mkdirSync(classes, { recursive: true });
    const source = path.join(REPO_ROOT, 'scripts', 'bench', 'peer', 'IcebergLake.java');
    await run('javac', ['-nowarn', '-d', classes, '-cp', `${layout.icebergPlugin}/*`, source], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`javac ${source} failed: ${(err.stderr || err.message).trim()}`);
    });
    return new IcebergLakeTool(
      [classes, `${layout.icebergPlugin}/*`, `${layout.readerLibs}/*`].join(path.delimiter),
      args.dir,
      args.env,
    );
  }

  /** Runs one command on `table` (`database.table`) of the catalog; returns its output. */
  async run(
    command: 'create' | 'rows' | 'added',
    table: string,
    catalog: Record<string, string>,
  ): Promise<{ stdout: string; stderr: string }> {
    const catalogFile = path.join(this.dir, `catalog-${++this.calls}.properties`);
    fs.writeFileSync(catalogFile, renderProperties(catalog, 'Written by `npm run bench:peers`.'));
    try {
      const out = await run('java', ['-cp', this.classPath, 'IcebergLake', catalogFile, command, table], {
        env: this.env,
        maxBuffer: 1024 * 1024 * 1024,
        timeout: 15 * 60_000,
      });
      return { stdout: out.stdout, stderr: out.stderr };
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const lines = (e.stderr ?? '')
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('SLF4J') && !/^\s+at /.test(l));
      throw new Error(`IcebergLake ${command} ${table} failed: ${lines.slice(0, 8).join(' | ') || e.message}`);
    }
  }
}

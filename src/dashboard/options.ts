/**
 * The dashboard's settings: from `npx ticklake dashboard` flags, else the environment
 * (TICKLAKE_DASHBOARD_*), else safe defaults: loopback only, read-only. Pure.
 */
import { ConfigError, LOCAL_PORTS } from '../config';

/** The dashboard's default port before TICKLAKE_PORT_OFFSET (the metrics port moves with it). */
export const DASHBOARD_BASE_PORT = 8300;

export interface DashboardOptions {
  /** Interface to listen on. Default `127.0.0.1`; any other address needs a {@link token}. */
  host: string;
  /** TCP port. Default 8300 plus TICKLAKE_PORT_OFFSET; 0 lets the system choose. */
  port: number;
  /** Whether the page may pause, resume and re-speed replays. Default false: read-only. */
  allowControl: boolean;
  /**
   * Secret a browser must present, once as `?token=` (then it is kept in a cookie) or in an
   * `Authorization: Bearer` header. Required off loopback; optional on it.
   */
  token?: string;
  /** How often the pipeline is sampled while a page is open, ms. Default 1,000. */
  sampleMs: number;
  /**
   * Fewest ms between two refreshes of the market after the lake changed (each costs two queries,
   * whatever the number of pages open). Default 5,000 (TICKLAKE_DASHBOARD_REFRESH_MS): a tick after a
   * quiet spell shows within about 2 s, in a steady stream within about 6 s; at most 24 queries a minute.
   */
  refreshMs: number;
  /**
   * With no page open, how often the server looks whether the sink wrote (one describe and one query of
   * the sink workflow) and, when it did, runs the market statement and the statement of the chart a
   * page draws first, so that the engine has fetched and converted the new objects before the next
   * first visit, and that visit has answers to draw (TICKLAKE_DASHBOARD_WARM_MS, default 10,000; 0: off).
   * When the sink wrote nothing, the answers read since the look before stay current.
   */
  warmMs: number;
  /** Base URL of the Temporal Web UI, for the links to workflows. Default the local one. */
  temporalUiUrl: string;
  /** Points a chart shows at most; a longer range is aggregated (week, month, ...) in the query. Default 1,000. */
  maxPoints: number;
}

export interface DashboardFlags {
  host?: string;
  port?: string | number;
  allowControl?: boolean;
  token?: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether an address is this machine's loopback only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase());
}

/** Settings from flags over environment over defaults; refuses an exposed dashboard without a token. */
export function dashboardOptions(flags: DashboardFlags = {}, env: NodeJS.ProcessEnv = process.env): DashboardOptions {
  const host = flags.host ?? env.TICKLAKE_DASHBOARD_HOST ?? '127.0.0.1';
  const rawPort = flags.port ?? env.TICKLAKE_DASHBOARD_PORT;
  const port = rawPort === undefined || rawPort === '' ? DASHBOARD_BASE_PORT + portOffset() : Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`the dashboard port must be a whole number from 0 to 65535, not '${String(rawPort)}'`);
  }
  const token = flags.token ?? (env.TICKLAKE_DASHBOARD_TOKEN || undefined);
  if (!isLoopback(host) && !token) {
    throw new ConfigError(
      `the dashboard listens on ${host} (not loopback) only with a token: pass --token <secret> or set ` +
        'TICKLAKE_DASHBOARD_TOKEN (at least 16 characters), and open the page as http://<host>:<port>/?token=<secret>',
    );
  }
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('the dashboard token must be at least 16 characters (e.g. `openssl rand -hex 16`)');
  }
  return {
    host,
    port,
    allowControl: flags.allowControl ?? truthy(env.TICKLAKE_DASHBOARD_CONTROL),
    token,
    sampleMs: 1_000,
    refreshMs: refreshMs(env.TICKLAKE_DASHBOARD_REFRESH_MS),
    temporalUiUrl: (env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${LOCAL_PORTS.temporalUi}`).replace(/\/+$/, ''),
    maxPoints: 1_000,
    warmMs: warmMs(env.TICKLAKE_DASHBOARD_WARM_MS),
  };
}

function warmMs(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || (n !== 0 && n < 1_000)) {
    throw new ConfigError('TICKLAKE_DASHBOARD_WARM_MS must be 0 (off) or a whole number of ms, at least 1000');
  }
  return n;
}

function refreshMs(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 5_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1_000) {
    throw new ConfigError('TICKLAKE_DASHBOARD_REFRESH_MS must be a whole number of ms, at least 1000');
  }
  return n;
}

function portOffset(): number {
  return LOCAL_PORTS.metrics - 9464;
}

/** The Temporal Web UI page of a workflow. */
export function workflowLink(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The Temporal Web UI page of a schedule. */
export function scheduleLink(uiUrl: string, namespace: string, scheduleId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/schedules/${encodeURIComponent(scheduleId)}`;
}

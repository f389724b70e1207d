/**
 * The dashboard's safe defaults over real HTTP, with a real Temporal client: loopback names only,
 * read-only unless allowed, controls only from its own page, the token, no SQL from the page.
 */
import http from 'node:http';
import type { Client } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { connectClient } from '../../src/adapters/temporal';
import { dashboardOptions, type DashboardFlags } from '../../src/dashboard/options';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server';
import { uniqueEnv } from './support';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const control = (port: number, action: string, body: unknown, headers: Record<string, string> = {}) =>
  request(port, `/api/replays/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Ticklake-Dashboard': '1', ...headers },
    body: JSON.stringify(body),
  });

describe('dashboard safety', () => {
  const env = uniqueEnv('dashsafe');
  const config = loadConfig(env);
  let client: Client;
  const running: RunningDashboard[] = [];
  const start = async (flags: DashboardFlags) => {
    const d = await startDashboard(
      config,
      () => Promise.resolve(client),
      dashboardOptions({ port: 0, ...flags }, env),
      {
        info: () => undefined,
        warn: () => undefined,
      },
    );
    running.push(d);
    return d;
  };

  beforeAll(async () => {
    client = await connectClient(config.temporal);
  });
  afterAll(async () => {
    for (const d of running) await d.close();
    await client?.connection.close();
  });

  it('serves its page on loopback, with a content security policy, and nothing under another name', async () => {
    const d = await start({});
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await request(d.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.body).toContain('<script defer src="/app.js">');
    // A name of another site pointed at 127.0.0.1 (DNS rebinding) gets nothing.
    const rebound = await request(d.port, '/api/config', { headers: { Host: `evil.example:${d.port}` } });
    expect(rebound.status).toBe(421);
    expect((await request(d.port, '/api/config', { headers: { Host: `localhost:${d.port}` } })).status).toBe(200);
  });

  it('is read-only unless started with control allowed', async () => {
    const d = await start({});
    const r = await control(d.port, 'pause', { id: 'sample' });
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/--allow-control/);
    expect(JSON.parse((await request(d.port, '/api/config')).body)).toMatchObject({ allowControl: false });
  });

  it('takes controls from its own page only, and says what went wrong', async () => {
    const d = await start({ allowControl: true });
    // A form of another site cannot set the header; a script of another origin is refused by its Origin.
    expect((await control(d.port, 'pause', { id: 'sample' }, { 'X-Ticklake-Dashboard': '0' })).status).toBe(403);
    expect((await control(d.port, 'pause', { id: 'sample' }, { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await control(d.port, 'pause', { id: '../../etc' + '\n' })).status).toBe(400);
    const missing = await control(d.port, 'pause', { id: `${env.KAFKA_TOPIC!}-none` });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error).toMatch(/not found/i);
    const speed = await control(d.port, 'speed', { id: 'x', speed: 'quickly' });
    expect(speed.status).toBe(400);
    expect(JSON.parse(speed.body).error).toMatch(/speed/i);
  });

  it('runs no SQL of the page: only its fixed statements with checked values', async () => {
    const d = await start({});
    expect((await request(d.port, '/api/query?sql=DROP%20TABLE%20ticks')).status).toBe(404);
    const bad = await request(d.port, `/api/series?symbol=${encodeURIComponent("X' OR '1'='1")}`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/not a symbol/);
  });

  it('asks for the token when it has one: once in the address, then from its cookie', async () => {
    const token = 'a'.repeat(8) + 'b'.repeat(8) + 'c'.repeat(8);
    const d = await start({ token });
    expect(d.url).toBe(`http://127.0.0.1:${d.port}/?token=${token}`);
    expect((await request(d.port, '/api/config')).status).toBe(401);
    expect((await request(d.port, '/?token=wrong-wrong-wrong-wrong')).status).toBe(401);
    const first = await request(d.port, `/?token=${token}`);
    expect(first.status).toBe(303);
    const cookie = String(first.headers['set-cookie']?.[0]).split(';')[0];
    expect(first.headers['set-cookie']?.[0]).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await request(d.port, '/api/config', { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await request(d.port, '/api/config', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

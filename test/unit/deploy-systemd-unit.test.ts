/**
 * deploy/ticklake-worker.service: the worker comes back after a reboot or a crash, reads its
 * configuration from /etc/ticklake/env, runs as its own user, and has time to drain on stop.
 * `systemd-analyze verify` checks it where systemd is installed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEPLOY, REPO, parseUnit } from './deploy-support';
import { itWhen } from '../support/environment';

const UNIT_FILE = path.join(DEPLOY, 'ticklake-worker.service');

/** systemd time spans as used here: '120', '120s', '2min', '1min 30s'. */
function seconds(span: string): number {
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*(ms|s|sec|min|m|h)?/g)) {
    total += Number(n) * ({ ms: 0.001, s: 1, sec: 1, min: 60, m: 60, h: 3600 }[unit ?? 's'] ?? 1);
  }
  return total;
}

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const NO_ANALYZE = 'systemd-analyze is not installed here (Debian: apt-get install systemd)';

describe('deploy/ticklake-worker.service', () => {
  const unit = parseUnit(fs.readFileSync(UNIT_FILE, 'utf8'));
  const get = (section: string, key: string) => unit.get(section)?.get(key) ?? [];
  const one = (section: string, key: string) => {
    const values = get(section, key);
    expect(`${section}.${key} × ${values.length}`).toBe(`${section}.${key} × 1`);
    return values[0];
  };

  it('has the three sections', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
  });

  it('starts once the network is up, at boot, and never gives up restarting', () => {
    expect(get('Unit', 'After').join(' ').split(/\s+/)).toContain('network-online.target');
    expect(get('Unit', 'Wants').join(' ').split(/\s+/)).toContain('network-online.target');
    expect(one('Unit', 'StartLimitIntervalSec')).toBe('0');
    expect(one('Service', 'Restart')).toBe('always');
    expect(seconds(one('Service', 'RestartSec'))).toBeGreaterThan(0);
    expect(one('Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('reads /etc/ticklake/env and runs the worker entry point from the checkout, as its own user', () => {
    expect(one('Service', 'EnvironmentFile')).toBe('/etc/ticklake/env');
    const user = one('Service', 'User');
    expect(user).not.toMatch(/^(root|0)$/);
    expect(path.isAbsolute(one('Service', 'WorkingDirectory'))).toBe(true);
    const exec = one('Service', 'ExecStart').split(/\s+/);
    expect(path.isAbsolute(exec[0])).toBe(true);
    // node on the compiled worker: one process, which receives the stop signal itself; with the heap
    // flag `npm start` and `npm run worker` give it (scripts/bootstrap.js).
    expect(exec.slice(1)).toEqual(['node', '--heap-growing-percent=100', 'dist/src/worker-main.js']);
    expect(fs.readFileSync(path.join(REPO, 'scripts', 'bootstrap.js'), 'utf8')).toContain(
      "WORKER_NODE_FLAGS = ['--heap-growing-percent=100']",
    );
    expect(fs.existsSync(path.join(REPO, 'src', 'worker-main.ts'))).toBe(true);
    // `npm run build` writes it after `npm install --omit=dev`, which must keep what the build runs.
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toBe('node scripts/build.js');
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['esbuild', '@temporalio/worker']));
    // State and cache go where systemd gives the service's user write access.
    const env = get('Service', 'Environment');
    expect(env).toContain(`TICKLAKE_DATA_DIR=/var/lib/${one('Service', 'StateDirectory')}`);
    expect(env).toContain(`TICKLAKE_CACHE_DIR=/var/cache/${one('Service', 'CacheDirectory')}`);
  });

  it('stops with SIGTERM and leaves the sink time to drain', () => {
    expect(one('Service', 'KillSignal')).toBe('SIGTERM');
    // The worker's grace period for running activities (src/worker-main.ts), then the sink's drain.
    const grace = /shutdownGraceTime:\s*'(\d+) seconds?'/.exec(
      fs.readFileSync(path.join(REPO, 'src', 'worker-main.ts'), 'utf8'),
    );
    expect(grace).not.toBeNull();
    expect(seconds(one('Service', 'TimeoutStopSec'))).toBeGreaterThanOrEqual(Number(grace![1]) + 60);
  });

  itWhen(hasSystemdAnalyze, NO_ANALYZE)('passes systemd-analyze verify without a message', () => {
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', UNIT_FILE], { encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({
      status: 0,
      output: '',
    });
  });

  itWhen(hasSystemdAnalyze, NO_ANALYZE)('and systemd-analyze verify reports a broken copy (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-unit-'));
    try {
      const broken = path.join(dir, 'ticklake-worker.service');
      fs.writeFileSync(broken, fs.readFileSync(UNIT_FILE, 'utf8').replace('Restart=always', 'Restart=sometimes'));
      const result = spawnSync('systemd-analyze', ['verify', '--man=no', broken], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`).toMatch(/restart specifier/i);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

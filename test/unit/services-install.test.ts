import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePackage, isPackageInstalled, type CachedPackage } from '../../src/services/install';

describe('ensurePackage', () => {
  let cacheDir: string;
  beforeEach(() => (cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-install-'))));
  afterEach(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  const pkg = (script: string, runs: { count: number }): CachedPackage => ({
    installDir: path.join(cacheDir, 'tool-1.0'),
    title: 'a tool',
    version: '1.0',
    source: 'nowhere',
    plan: (dir) => {
      runs.count++;
      return {
        tools: [{ command: process.execPath, hint: 'install Node.js' }],
        files: [{ relativePath: 'conf/a.txt', content: 'hello' }],
        commands: [{ command: process.execPath, args: ['-e', script] }],
        verify: { fileExists: path.join(dir, 'out.txt') },
      };
    },
    error: (kind, message) => new Error(`${kind}: ${message}`),
  });

  it('installs into <cache>/<name>-<version> once, with its files, then finds it there', async () => {
    const runs = { count: 0 };
    const p = pkg("require('fs').writeFileSync('out.txt', require('fs').readFileSync('conf/a.txt'))", runs);
    await expect(ensurePackage(p, cacheDir)).resolves.toBe(p.installDir);
    expect(fs.readFileSync(path.join(p.installDir, 'out.txt'), 'utf8')).toBe('hello');
    expect(isPackageInstalled(p)).toBe(true);
    await ensurePackage(p, cacheDir);
    expect(runs.count).toBe(1);
  });

  it('leaves nothing that looks installed when the install fails, and says so with its own error', async () => {
    const p = pkg('process.exit(3)', { count: 0 });
    await expect(ensurePackage(p, cacheDir)).rejects.toThrow(/^install-failed: install failed: .* exited with code 3/);
    expect(isPackageInstalled(p)).toBe(false);
    expect(fs.readdirSync(cacheDir).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
  });
});

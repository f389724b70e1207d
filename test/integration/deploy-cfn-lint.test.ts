/**
 * cfn-lint (the CloudFormation linter, from PyPI) accepts deploy/cloudformation.yaml. It is installed
 * at first use into the ticklake cache, `<TICKLAKE_CACHE_DIR>/cfn-lint-<version>` (a Python venv),
 * and reused after; only PyPI needs to be reachable.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEPLOY } from '../unit/deploy-support';

const run = promisify(execFile);
const CFN_LINT_VERSION = '1.58.0';
const cacheDir = path.resolve(process.env.TICKLAKE_CACHE_DIR || path.join(os.homedir(), '.cache', 'ticklake'));
const venv = path.join(cacheDir, `cfn-lint-${CFN_LINT_VERSION}`);
const python = path.join(venv, 'bin', 'python');
// Console scripts hold the absolute path of the directory they were installed in, and the venv is
// installed under a temporary name: call the runner through the interpreter instead.
const RUNNER = 'import sys; from cfnlint.runner import main; sys.exit(main())';

async function installed(): Promise<boolean> {
  try {
    const { stdout } = await run(python, ['-c', RUNNER, '--version']);
    return stdout.includes(CFN_LINT_VERSION);
  } catch {
    return false;
  }
}

/** Installs into a temporary directory renamed into place, so an interrupted install is never taken for a complete one. */
async function ensureCfnLint(): Promise<void> {
  if (await installed()) return;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, `.cfn-lint-${CFN_LINT_VERSION}-`));
  try {
    await run('python3', ['-m', 'venv', tmp]).catch((err: Error) => {
      throw new Error(
        `python3 -m venv failed (${err.message}); install Python 3 with venv (Debian/Ubuntu: python3-venv)`,
      );
    });
    await run(
      path.join(tmp, 'bin', 'python'),
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', `cfn-lint==${CFN_LINT_VERSION}`],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    fs.rmSync(venv, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, venv);
    } catch (err) {
      // Another run installed it meanwhile.
      if (!(await installed())) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!(await installed())) throw new Error(`cfn-lint ${CFN_LINT_VERSION} does not run from ${venv}`);
}

async function lint(template: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(python, ['-c', RUNNER, '--format', 'parseable', '--', template]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('deploy/cloudformation.yaml under cfn-lint', () => {
  beforeAll(ensureCfnLint, 10 * 60_000);

  it('passes with no error, warning or message', async () => {
    const result = await lint(path.join(DEPLOY, 'cloudformation.yaml'));
    expect(result).toEqual({ code: 0, output: '' });
  });

  it('fails on a broken copy (the check can fail)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-cfn-'));
    try {
      const broken = path.join(dir, 'broken.yaml');
      const text = fs.readFileSync(path.join(DEPLOY, 'cloudformation.yaml'), 'utf8');
      expect(text).toContain('SSEAlgorithm: AES256');
      fs.writeFileSync(broken, text.replace('SSEAlgorithm: AES256', 'SSEAlgorithm: AES257'));
      const result = await lint(broken);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/AES257/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

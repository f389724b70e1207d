/**
 * `npm test`: brings the local services up, then runs lint, format check, type check and the whole
 * jest suite (unit and integration). Extra arguments go to jest.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureServices } from '../src/services';

/** Each install and start step of the local services, as `npm run services -- up` shows them. */
const printServiceProgress = (service: string, message: string) => console.error(`[${service}] ${message}`);

const root = path.resolve(__dirname, '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

function step(title: string, cmd: string, args: string[]): void {
  console.log(`\n== ${title}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    console.error(`\n${title} failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status ?? 1);
  }
  console.log(`== ${title}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

async function main(): Promise<void> {
  console.log('== local services (installed into the cache the first time: a few minutes)');
  await ensureServices(undefined, { onProgress: printServiceProgress });
  step('lint', bin('eslint'), ['--max-warnings=0', '.']);
  step('format', bin('prettier'), ['--check', '.']);
  step('type check', bin('tsc'), ['-p', '.']);
  step('tests', bin('jest'), ['--runInBand', '--forceExit', ...process.argv.slice(2)]);
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});

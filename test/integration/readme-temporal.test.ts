/**
 * Runs every Temporal CLI command that the README quotes, as written, against the local services, so
 * the README cannot drift from the code. The README's ids are the default ones (replay/sample,
 * sink/ticks, replay/cli-demo), so this test runs the default pipeline first, as `npm start` does.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { startReplay, startSink } from '../../src/pipeline';
import { startHarness, type Harness } from './support';

const run = promisify(execFile);

/** `npm run temporal -- …` commands of the README's shell blocks, continuation lines joined. */
export function readmeTemporalCommands(readme: string): string[] {
  const commands: string[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command.startsWith('npm run temporal -- ')) commands.push(command);
    }
  }
  return commands;
}

describe('the Temporal CLI commands quoted in the README', () => {
  const commands = readmeTemporalCommands(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'));
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(loadConfig());
    await startSink(h.client, h.config);
    const replay = await startReplay(h.client, h.config, { file: path.join(REPO_ROOT, 'data', 'sample.csv') });
    await replay.result();
    // A schedule the README creates may be left over from an interrupted earlier run.
    await run('bash', ['-c', 'npm run temporal -- schedule delete --schedule-id my-crawl'], { cwd: REPO_ROOT }).catch(
      () => undefined,
    );
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  it('quotes workflow and schedule commands', () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    expect(commands.some((c) => c.includes('workflow start'))).toBe(true);
    expect(commands.some((c) => c.includes('workflow update'))).toBe(true);
  });

  it('runs each of them successfully, in order', async () => {
    for (const command of commands) {
      try {
        await run('bash', ['-c', command], { cwd: REPO_ROOT, timeout: 60_000 });
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message: string };
        throw new Error(`README command failed: ${command}\n${e.stderr || e.stdout || e.message}`);
      }
    }
  }, 300_000);
});

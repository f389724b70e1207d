/**
 * Runs every Temporal CLI command that the README quotes, as written, against the local services, so
 * the README cannot drift from the code, and starts the workflows of the README's Web UI section with
 * the inputs it gives to paste, as the Start Workflow form does. The README's ids are the default ones
 * (sink/ticks, replay/cli-demo, replay/ui-demo, ...). The stack here has only what every `npm start`
 * leaves, whatever file it replayed: a running sink. No replay of the sample ran before, so a command
 * that relies on the history of the stack (a `replay/sample` that another user's stack does not have)
 * fails here.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { startSink } from '../../src/pipeline';
import { resumeSignal } from '../../workflows/definitions';
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

/** The Web UI inputs of the README: `<!-- web-ui-input: <type> <workflow id> -->` then a json block. */
export function readmeWebUiInputs(readme: string): { type: string; workflowId: string; input: unknown }[] {
  return [...readme.matchAll(/<!-- web-ui-input: (\S+) (\S+) -->\s*```json\n([\s\S]*?)```/g)].map((m) => ({
    type: m[1],
    workflowId: m[2],
    input: JSON.parse(m[3]) as unknown,
  }));
}

describe('the Temporal CLI commands quoted in the README', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const commands = readmeTemporalCommands(readme);
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(loadConfig());
    await startSink(h.client, h.config);
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

  it('starts each workflow of the Web UI section with the input it gives to paste', async () => {
    const inputs = readmeWebUiInputs(readme);
    expect(inputs.map((i) => i.type)).toEqual(['replayWorkflow', 'crawlWorkflow', 'queryWorkflow', 'compactWorkflow']);
    for (const { type, workflowId, input } of inputs) {
      const handle = await h.client.workflow.start(type, {
        workflowId,
        taskQueue: h.config.temporal.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      if (type === 'replayWorkflow') await handle.signal(resumeSignal);
      const result = await handle.result();
      if (type === 'queryWorkflow') expect((result as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
      else expect(result).toBeDefined();
    }
  }, 300_000);
});

/**
 * Replay tests: recorded histories of every workflow type (test/fixtures/histories/, written by
 * `npm run record-histories`) replayed against the current workflow code. A change that would make
 * a running workflow nondeterministic (another order of commands, an activity or timer added or
 * removed without `patched()`) fails here, before it reaches a running sink.
 *
 * `legacy/` holds histories written by earlier versions (progress signals, no patch marker): the
 * workflows still running from before a change replay through them.
 * See docs/workflow-testing.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { quietRuntime } from './support';

jest.setTimeout(120_000);

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'histories');
const WORKFLOW_TYPES = ['replayWorkflow', 'sinkWorkflow', 'crawlWorkflow', 'queryWorkflow', 'compactWorkflow'];

interface Recorded {
  file: string;
  workflowType: string;
  history: unknown;
}

function recorded(dir: string): Recorded[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const history = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
        events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
      };
      const workflowType = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
      return { file: path.relative(FIXTURES, path.join(dir, f)), workflowType, history };
    });
}

const current = recorded(FIXTURES);
const legacy = recorded(path.join(FIXTURES, 'legacy'));

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  quietRuntime();
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
});

test('every workflow type has a recorded history, current and legacy', () => {
  expect(current.map((r) => r.workflowType).sort()).toEqual([...WORKFLOW_TYPES].sort());
  expect(legacy.map((r) => r.workflowType).sort()).toEqual([...WORKFLOW_TYPES].sort());
});

test.each([...current, ...legacy].map((r) => [r.file, r] as const))(
  '%s replays against the current workflow code',
  async (_file, r) => {
    const results = Worker.runReplayHistories({ workflowBundle: bundle }, [
      { workflowId: `fixture/${r.file}`, history: r.history },
    ]);
    let replayed = 0;
    for await (const result of results) {
      replayed++;
      // A DeterminismViolationError names the first command that differs from the history.
      expect(result.error?.message).toBeUndefined();
    }
    expect(replayed).toBe(1);
  },
);

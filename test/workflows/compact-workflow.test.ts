/**
 * The compaction workflow with mocked activities: its steps, their order, window failures, bad input.
 * On a local dev server (no timers to skip; its search attributes registered).
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { CompactInput, CompactPlanSummary, CompactResult, CompactWindowResult } from '../../activities/types';
import { compactWorkflow } from '../../workflows';
import { compactStatusQuery } from '../../workflows/definitions';
import { workflowTestbed, type WorkflowTestbed } from './support';
import { devServerEnv } from './test-server';

jest.setTimeout(120_000);

let tb: WorkflowTestbed;
beforeAll(async () => {
  // The workflow upserts the pipeline's search attributes: a server that has them registered.
  tb = await workflowTestbed(devServerEnv);
});
afterAll(() => tb?.teardown());

const input: CompactInput = {
  bucket: 'ticklake',
  prefix: 'lake/',
  curatedPrefix: 'curated/',
  database: 'ticklake',
  table: 'ticks',
  partitionBy: ['year', 'symbol_bucket'],
  symbolBuckets: 4,
  quietMs: 0,
  retentionMs: 0,
};

function summary(rows: number, windows: number): CompactResult {
  return {
    generation: 1,
    startedAt: '',
    finishedAt: '',
    durationMs: 1,
    windows,
    rows,
    rawObjects: 0,
    rawBytes: 0,
    parquetBytes: 0,
    replacedParquetBytes: 0,
    failed: [],
    deletedRawObjects: 0,
    deletedCuratedFiles: 0,
    totals: { partitions: windows, rows, parquetBytes: 0, rawBytesReplaced: 0, retirementsWaiting: 0 },
  };
}

function mocks(plan: CompactPlanSummary, refuse: string[] = []) {
  const calls: string[] = [];
  let running = 0;
  let most = 0;
  let committed: CompactWindowResult[] | undefined;
  const activities = {
    planCompaction: () => {
      calls.push('plan');
      return Promise.resolve(plan);
    },
    compactPartition: async (_i: CompactInput, _key: string, partition: string): Promise<CompactWindowResult> => {
      calls.push(`window ${partition}`);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return refuse.includes(partition)
        ? { partition, ok: false, failure: { type: 'CorruptRawObject', message: `object of ${partition} is corrupt` } }
        : { partition, ok: true };
    },
    compactPartitions: async (_i: CompactInput, _key: string, partitions: string[]): Promise<CompactWindowResult[]> => {
      calls.push(`batch ${partitions.join(',')}`);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return partitions.map((partition) =>
        refuse.includes(partition)
          ? {
              partition,
              ok: false,
              failure: { type: 'CorruptRawObject', message: `object of ${partition} is corrupt` },
            }
          : { partition, ok: true },
      );
    },
    commitCompaction: (_i: CompactInput, _key: string, results: CompactWindowResult[]) => {
      calls.push('commit');
      committed = results;
      return Promise.resolve({ generation: plan.generation, committed: true });
    },
    applyCuratedCatalog: () => {
      calls.push('catalog');
      return Promise.resolve({ generation: plan.generation, partitions: plan.windows.length });
    },
    expireRaw: () => {
      calls.push('expire');
      return Promise.resolve({ deletedRawObjects: 0, deletedCuratedFiles: 0 });
    },
    compactSummary: () => {
      calls.push('summary');
      return Promise.resolve(summary(10, plan.windows.length - refuse.length));
    },
  };
  return { activities, calls, most: () => most, committed: () => committed };
}

const windows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ partition: `year=20${10 + i}/symbol_bucket=0`, objects: 2, records: 5 }));

test('plans, compacts every window at most two at a time, switches once, then catalogues and expires', async () => {
  const m = mocks({ generation: 1, planKey: 'plans/1.json', windows: windows(5) });
  await tb.withWorker(m.activities, async (taskQueue) => {
    const r = await tb.env.client.workflow.execute(compactWorkflow, {
      taskQueue,
      workflowId: `compact/${taskQueue}`,
      args: [input],
    });
    expect(r.rows).toBe(10);
  });
  expect(m.calls[0]).toBe('plan');
  expect(m.calls.filter((c) => c.startsWith('window')).sort()).toEqual(windows(5).map((w) => `window ${w.partition}`));
  expect(m.calls.slice(6)).toEqual(['commit', 'catalog', 'expire', 'summary']);
  expect(m.most()).toBe(2);
  expect(m.committed()?.map((r) => r.partition)).toEqual(windows(5).map((w) => w.partition));
});

test("the plan's batches: one compactPartitions each, a window alone through compactPartition; a refused window in a batch fails alone", async () => {
  const w = windows(6).map((x) => x.partition);
  const plan = {
    generation: 4,
    planKey: 'plans/4.json',
    windows: windows(6),
    batches: [[w[0], w[1], w[2]], [w[3]], [w[4], w[5]]],
  };
  const m = mocks(plan, [w[1]]);
  await tb.withWorker(m.activities, async (taskQueue) => {
    const handle = await tb.env.client.workflow.start(compactWorkflow, {
      taskQueue,
      workflowId: `compact/${taskQueue}`,
      args: [input],
    });
    await handle.result();
    const status = await handle.query(compactStatusQuery);
    expect(status).toMatchObject({ phase: 'done', windows: 6, windowsDone: 6, failed: 1 });
  });
  expect(m.calls.slice(1, 4).sort()).toEqual([
    `batch ${w[0]},${w[1]},${w[2]}`,
    `batch ${w[4]},${w[5]}`,
    `window ${w[3]}`,
  ]);
  expect(m.calls.slice(4)).toEqual(['commit', 'catalog', 'expire', 'summary']);
  expect(m.most()).toBe(2);
  const results = m.committed()!;
  expect(results.map((r) => r.partition)).toEqual(w);
  expect(results.map((r) => r.ok)).toEqual([true, false, true, true, true, true]);
});

test('a refused window goes to the commit as failed; the others are switched', async () => {
  const plan = { generation: 3, planKey: 'plans/3.json', windows: windows(3) };
  const m = mocks(plan, [plan.windows[1].partition]);
  await tb.withWorker(m.activities, async (taskQueue) => {
    await tb.env.client.workflow.execute(compactWorkflow, {
      taskQueue,
      workflowId: `compact/${taskQueue}`,
      args: [input],
    });
  });
  const results = m.committed()!;
  expect(results.map((r) => r.ok)).toEqual([true, false, true]);
  expect(results[1].failure?.type).toBe('CorruptRawObject');
});

test('nothing to compact: no window, no switch; the catalog and the retention still run', async () => {
  const m = mocks({ generation: 2, planKey: '', windows: [], note: 'no closed window has raw records to compact' });
  await tb.withWorker(m.activities, async (taskQueue) => {
    await tb.env.client.workflow.execute(compactWorkflow, {
      taskQueue,
      workflowId: `compact/${taskQueue}`,
      args: [input],
    });
  });
  expect(m.calls).toEqual(['plan', 'catalog', 'expire', 'summary']);
});

test('an empty start (as from the Web UI form) fails at once, saying what is missing', async () => {
  const m = mocks({ generation: 1, planKey: '', windows: [] });
  await tb.withWorker(m.activities, async (taskQueue) => {
    const err = await tb.env.client.workflow
      .execute(compactWorkflow, {
        taskQueue,
        workflowId: `compact/${taskQueue}`,
        args: [{} as CompactInput],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as Error & { type?: string };
    expect(cause.type).toBe('InvalidWorkflowInput');
    expect(cause.message).toMatch(/bucket/);
    expect(cause.message).toMatch(/curatedPrefix/);
  });
  expect(m.calls).toEqual([]);
});

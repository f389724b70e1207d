import { mapLimit, waitFor, waitUntil, WaitTimeoutError } from '../../src/concurrency';

test('mapLimit keeps at most `limit` calls in flight and returns results in input order', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit([30, 5, 20, 1, 10, 2], 2, async (ms, i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    return `${i}:${ms}`;
  });
  expect(out).toEqual(['0:30', '1:5', '2:20', '3:1', '4:10', '5:2']);
  expect(most).toBe(2);
});

test('mapLimit rejects with the first failure', async () => {
  await expect(
    mapLimit([1, 2, 3], 3, (n) => (n === 2 ? Promise.reject(new Error('two failed')) : Promise.resolve(n))),
  ).rejects.toThrow('two failed');
});

test('waitFor returns the first answer and treats a throwing probe as not yet', async () => {
  let calls = 0;
  const v = await waitFor(
    'the third call',
    () => {
      calls++;
      if (calls === 1) throw new Error('not up yet');
      return calls >= 3 ? `call ${calls}` : undefined;
    },
    5_000,
    5,
  );
  expect(v).toBe('call 3');
});

test('waitFor times out saying what it waited for and what the probe last threw', async () => {
  const started = Date.now();
  const err = await waitFor(
    'a broker',
    () => {
      throw new Error('connection refused');
    },
    100,
    20,
  ).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WaitTimeoutError);
  expect((err as Error).message).toBe('timed out after 100 ms waiting for a broker: connection refused');
  expect(Date.now() - started).toBeGreaterThanOrEqual(100);
});

test('waitUntil answers whether the condition held before the deadline, and fails on a throwing condition', async () => {
  let n = 0;
  expect(await waitUntil(() => ++n >= 3, 5_000, 5)).toBe(true);
  expect(await waitUntil(() => false, 50, 10)).toBe(false);
  await expect(
    waitUntil(() => {
      throw new Error('no /proc');
    }, 1_000),
  ).rejects.toThrow('no /proc');
});

import { IdleInstance } from '../../src/idle-instance';

/** An IdleInstance over numbered resources, with a log of what was opened and closed. */
function counted(idleMs: number, failFirstOpen = false) {
  const events: string[] = [];
  let opened = 0;
  const idle = new IdleInstance<number>({
    open: () => {
      opened++;
      if (failFirstOpen && opened === 1) return Promise.reject(new Error('no memory'));
      events.push(`open ${opened}`);
      return Promise.resolve(opened);
    },
    close: (n) => events.push(`close ${n}`),
    idleMs,
  });
  return { idle, events };
}

// Fake timers: the idle time is the only clock here, and a loaded machine cannot stretch it.
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());
const sleep = (ms: number) => jest.advanceTimersByTimeAsync(ms);

test('concurrent users share one instance, closed only after the last is done and the idle time has passed', async () => {
  const { idle, events } = counted(40);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = idle.use(async (n) => {
    await held;
    return n;
  });
  const second = await idle.use((n) => Promise.resolve(n));
  expect(second).toBe(1);
  await sleep(80); // the first user still holds it
  expect(events).toEqual(['open 1']);
  release();
  expect(await first).toBe(1);
  await sleep(10);
  expect(idle.isOpen).toBe(true);
  await sleep(80);
  expect(events).toEqual(['open 1', 'close 1']);
  expect(idle.isOpen).toBe(false);
});

test('a use within the idle time keeps the instance; a use after it opens a new one', async () => {
  const { idle, events } = counted(40);
  await idle.use(() => Promise.resolve());
  await sleep(15);
  await idle.use(() => Promise.resolve());
  await sleep(15);
  expect(events).toEqual(['open 1']);
  await sleep(60);
  expect(await idle.use((n) => Promise.resolve(n))).toBe(2);
  expect(events).toEqual(['open 1', 'close 1', 'open 2']);
  await idle.close();
  expect(events).toEqual(['open 1', 'close 1', 'open 2', 'close 2']);
});

test('a failed open fails its use and is tried again by the next', async () => {
  const { idle, events } = counted(1000, true);
  await expect(idle.use((n) => Promise.resolve(n))).rejects.toThrow('no memory');
  expect(await idle.use((n) => Promise.resolve(n))).toBe(2);
  expect(events).toEqual(['open 2']);
  await idle.close();
  expect(events).toEqual(['open 2', 'close 2']);
});

test('a failing user still lets the instance close', async () => {
  const { idle, events } = counted(20);
  await expect(idle.use(() => Promise.reject(new Error('window refused')))).rejects.toThrow('window refused');
  await sleep(60);
  expect(events).toEqual(['open 1', 'close 1']);
});

test('close() leaves an instance in use open', async () => {
  const { idle, events } = counted(1000);
  let release!: () => void;
  const held = idle.use(() => new Promise<void>((r) => (release = r)));
  await sleep(5);
  await idle.close();
  expect(events).toEqual(['open 1']);
  release();
  await held;
  await idle.close();
  expect(events).toEqual(['open 1', 'close 1']);
});

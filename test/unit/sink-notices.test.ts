/** New-partition notices: batched, throttled, deduplicated, retried. */
import { PartitionNotifier } from '../../src/sink/partition-notices';

describe('PartitionNotifier', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('sends new partitions at most once per interval, each partition once', async () => {
    const sent: string[][] = [];
    const n = new PartitionNotifier((p) => (sent.push(p), Promise.resolve()), { intervalMs: 1000 });
    n.add(['symbol=A/year=1', 'symbol=B/year=1']);
    n.add(['symbol=A/year=1']);
    await jest.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([['symbol=A/year=1', 'symbol=B/year=1']]);
    n.add(['symbol=A/year=1', 'symbol=C/year=1']);
    n.add(['symbol=D/year=1']);
    await jest.advanceTimersByTimeAsync(500);
    expect(sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(500);
    expect(sent[1]).toEqual(['symbol=C/year=1', 'symbol=D/year=1']);
    n.close();
  });

  it('retries a failed notice with the next one and splits large ones', async () => {
    const sent: string[][] = [];
    let fail = true;
    const warn = jest.fn();
    const n = new PartitionNotifier(
      (p) => {
        if (fail) return Promise.reject(new Error('temporal away'));
        sent.push(p);
        return Promise.resolve();
      },
      { intervalMs: 1000, maxPerNotice: 2, log: { warn } },
    );
    n.add(['a', 'b', 'c']);
    await jest.advanceTimersByTimeAsync(0);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(n.pendingCount).toBe(3);
    fail = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(sent).toEqual([['a', 'b']]);
    await n.flush();
    expect(sent).toEqual([['a', 'b'], ['c']]);
    expect(n.pendingCount).toBe(0);
    n.close();
  });
});

import { LIVE_POLLER_S, livePollers } from '../../src/cli/pollers';

const at = (seconds: number) => ({ lastAccessTime: { seconds: { toString: () => String(seconds) } } });

describe('live pollers', () => {
  const now = 1_800_000_000_000;
  const s = now / 1000;

  it('counts pollers that polled within the last minute and a bit', () => {
    expect(livePollers([at(s - 3), at(s - 60), at(s - LIVE_POLLER_S + 1)], now)).toBe(3);
  });

  it('does not count a worker gone: its poller lingers in the listing with an old last poll', () => {
    expect(livePollers([at(s - LIVE_POLLER_S), at(s - 240)], now)).toBe(0);
    expect(livePollers([at(s - 240), at(s - 5)], now)).toBe(1);
  });

  it('treats no listing and pollers without a time as none alive', () => {
    expect(livePollers(undefined, now)).toBe(0);
    expect(livePollers([{}, { lastAccessTime: null }], now)).toBe(0);
    expect(livePollers([{ lastAccessTime: { seconds: s - 1 } }], now)).toBe(1);
  });
});

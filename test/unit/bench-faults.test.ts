import { FAULT_KINDS, faultPlan, rng, slowerRate } from '../../scripts/bench/faults';

describe('chaos fault plan', () => {
  it('has every kind at least once, in an order fixed by the seed', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const plan = faultPlan(10, rng(seed));
      expect(plan).toHaveLength(10);
      for (const kind of FAULT_KINDS) expect(plan).toContain(kind);
      expect(faultPlan(10, rng(seed))).toEqual(plan);
    }
    expect(faultPlan(10, rng(1))).not.toEqual(faultPlan(10, rng(2)));
  });

  it('spreads the faults evenly over the kinds', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const counts = FAULT_KINDS.map((k) => faultPlan(10, rng(seed)).filter((f) => f === k).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(10);
    }
  });

  it('refuses fewer faults than kinds', () => {
    expect(() => faultPlan(3, rng(1))).toThrow(/at least 4/);
    expect(() => faultPlan(4.5, rng(1))).toThrow(/whole number/);
    expect(faultPlan(4, rng(1)).sort()).toEqual([...FAULT_KINDS].sort());
  });

  it('draws numbers in [0, 1)', () => {
    const r = rng(42);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('slows the replay only when it would end well before the faults', () => {
    // 10,000 rows at 1,000/s last 10 s; 5 faults of 12 s want 60 s: slow to 166 rows/s.
    expect(slowerRate({ rowsLeft: 10_000, faultsLeft: 5, currentRate: 1000, secondsPerFault: 12 })).toBe(166);
    // 10,000 rows at 200/s last 50 s, more than 3/4 of 60 s: unchanged.
    expect(slowerRate({ rowsLeft: 10_000, faultsLeft: 5, currentRate: 200, secondsPerFault: 12 })).toBeUndefined();
    // at 250/s they last 40 s, less than 45 s: slowed to 166 rows/s.
    expect(slowerRate({ rowsLeft: 10_000, faultsLeft: 5, currentRate: 250, secondsPerFault: 12 })).toBe(166);
    expect(slowerRate({ rowsLeft: 0, faultsLeft: 5, currentRate: 300, secondsPerFault: 12 })).toBeUndefined();
    expect(slowerRate({ rowsLeft: 100, faultsLeft: 0, currentRate: 300, secondsPerFault: 12 })).toBeUndefined();
    expect(slowerRate({ rowsLeft: 10, faultsLeft: 5, currentRate: Infinity, secondsPerFault: 12 })).toBe(1);
  });
});

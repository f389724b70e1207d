/** The fault plan of `npm run chaos`. Pure. */

export const FAULT_KINDS = ['worker', 'kafka', 's3', 'temporal'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A small seeded PRNG (mulberry32): a run's fault order and timing can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` fault kinds in a random order, as evenly spread over the kinds as the count allows (each kind
 * at least once; no kind more than once more than another).
 */
export function faultPlan(count: number, random: () => number): FaultKind[] {
  if (!Number.isInteger(count) || count < FAULT_KINDS.length) {
    throw new Error(`the number of faults must be a whole number of at least ${FAULT_KINDS.length} (each kind once)`);
  }
  const plan: FaultKind[] = [];
  while (plan.length < count) plan.push(...shuffle([...FAULT_KINDS], random));
  return shuffle(plan.slice(0, count), random);
}

function shuffle<T>(plan: T[], random: () => number): T[] {
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  return plan;
}

/**
 * Replay speed that keeps data flowing until the last fault: `rowsLeft` spread over `faultsLeft` faults of
 * about `secondsPerFault` each, or undefined when the current speed already lasts at least 3/4 of that.
 */
export function slowerRate(args: {
  rowsLeft: number;
  faultsLeft: number;
  currentRate: number;
  secondsPerFault: number;
}): number | undefined {
  const { rowsLeft, faultsLeft, currentRate, secondsPerFault } = args;
  if (faultsLeft <= 0 || rowsLeft <= 0) return undefined;
  const wanted = Math.max(1, Math.floor(rowsLeft / (faultsLeft * secondsPerFault)));
  return rowsLeft / currentRate < faultsLeft * secondsPerFault * 0.75 && wanted < currentRate ? wanted : undefined;
}

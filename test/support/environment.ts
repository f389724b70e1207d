/**
 * Tests that need something of the environment (the real data file, a system tool). Where it is
 * missing the test is skipped, never passed, and its title says why: jest lists it as skipped, and
 * the suite's closing lines (test/support/skipped-reporter.js) name it with the reason.
 */

/** `it` when `available`, else `it.skip` with ` [skipped: <reason>]` added to the title. */
export function itWhen(available: boolean, reason: string): jest.It {
  if (available) return it;
  const skip = ((title: string, fn?: jest.ProvidesCallback, timeout?: number) =>
    it.skip(`${title} [skipped: ${reason}]`, fn, timeout)) as jest.It;
  return Object.assign(skip, it);
}

/** The real data file named by TICKLAKE_REAL_CSV, if set. */
export const REAL_CSV = process.env.TICKLAKE_REAL_CSV || undefined;
export const NO_REAL_CSV =
  'TICKLAKE_REAL_CSV is not set (.ci/run sets it to ../shared/data/stock-exchange/indexProcessed.csv)';

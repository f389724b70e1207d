/** Replay speed: how long to wait before the next row. Pure. */

export type ReplaySpeed =
  | { mode: 'max' }
  /** A fixed rate in rows per second. */
  | { mode: 'rows'; rowsPerSecond: number }
  /** Market time: N trading days of data per second of wall time. */
  | { mode: 'days'; tradingDaysPerSecond: number };

export function describeSpeed(speed: ReplaySpeed): string {
  switch (speed.mode) {
    case 'max':
      return 'as fast as possible';
    case 'rows':
      return `${speed.rowsPerSecond} rows/s`;
    case 'days':
      return `${speed.tradingDaysPerSecond} trading days/s`;
  }
}

/** Throws a message saying what is allowed when a speed is not valid. */
export function validateSpeed(speed: ReplaySpeed): void {
  if (speed.mode === 'rows' && !(speed.rowsPerSecond > 0 && Number.isFinite(speed.rowsPerSecond))) {
    throw new Error('speed in rows per second must be a positive number');
  }
  if (speed.mode === 'days' && !(speed.tradingDaysPerSecond > 0 && Number.isFinite(speed.tradingDaysPerSecond))) {
    throw new Error('speed in trading days per second must be a positive number');
  }
}

/** Parses `max`, `500rows`, `500` (rows/s) or `2days` (trading days/s). */
export function parseSpeed(text: string): ReplaySpeed {
  const t = text.trim().toLowerCase();
  let speed: ReplaySpeed;
  if (t === 'max' || t === 'fast') speed = { mode: 'max' };
  else if (/^\d+(\.\d+)?(rows?(\/s)?)?$/.test(t)) speed = { mode: 'rows', rowsPerSecond: parseFloat(t) };
  else if (/^\d+(\.\d+)?days?(\/s)?$/.test(t)) speed = { mode: 'days', tradingDaysPerSecond: parseFloat(t) };
  else
    throw new Error(
      `speed '${text}' is not understood: use 'max', '<n>rows' (rows per second) or '<n>days' (trading days per second)`,
    );
  validateSpeed(speed);
  return speed;
}

/**
 * Tracks progress against the wall clock. `due(rows, days)` returns how many ms to wait before
 * emitting the next row, given rows and distinct trading days emitted since the speed was set.
 */
export class Pacer {
  private readonly startedAt: number;

  constructor(
    private readonly speed: ReplaySpeed,
    now: number,
  ) {
    this.startedAt = now;
  }

  waitMs(rowsSinceStart: number, daysSinceStart: number, now: number): number {
    switch (this.speed.mode) {
      case 'max':
        return 0;
      case 'rows':
        return Math.max(0, this.startedAt + (rowsSinceStart * 1000) / this.speed.rowsPerSecond - now);
      case 'days':
        return Math.max(0, this.startedAt + (daysSinceStart * 1000) / this.speed.tradingDaysPerSecond - now);
    }
  }
}

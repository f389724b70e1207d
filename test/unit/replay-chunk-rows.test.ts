import { chunkRows } from '../../src/replay/replayer';
import { ROWS_PER_CHUNK } from '../../src/replay/row-feed';

describe('chunkRows', () => {
  it('packs big chunks at full speed', () => {
    expect(chunkRows({ mode: 'max' })).toBe(ROWS_PER_CHUNK);
  });

  it('packs about a tenth of a second of rows when paced by rows per second', () => {
    expect(chunkRows({ mode: 'rows', rowsPerSecond: 2000 })).toBe(200);
    expect(chunkRows({ mode: 'rows', rowsPerSecond: 5 })).toBe(16);
    expect(chunkRows({ mode: 'rows', rowsPerSecond: 1e6 })).toBe(ROWS_PER_CHUNK);
  });

  it('packs a few trading days of rows when paced by market time', () => {
    expect(chunkRows({ mode: 'days', tradingDaysPerSecond: 50 })).toBe(100);
    expect(chunkRows({ mode: 'days', tradingDaysPerSecond: 1 })).toBe(16);
  });
});

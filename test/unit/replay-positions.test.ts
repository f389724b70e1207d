import { POSITION_VERSION, checkPosition, positionMessage, type ReplayPosition } from '../../src/replay/positions';

const fingerprint = { size: 1234, mtimeMs: 1700000000000 };
const position: ReplayPosition = {
  version: POSITION_VERSION,
  order: 'market',
  pass: 0,
  consumed: 10,
  produced: 9,
  rejected: 1,
  line: 11,
  cursors: [
    { offset: 100, line: 12, key: '2020-01-02' },
    { offset: 900, line: 40, key: '' },
  ],
  fingerprint,
  done: false,
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const expected = { replayId: 'r1', file: '/data/f.csv', fingerprint, order: 'market' as const, runs: 2 };

describe('checkPosition', () => {
  it('accepts a position of the same file, order and layout', () => {
    const stored = JSON.parse(positionMessage('r1', position).value) as unknown;
    expect(checkPosition(stored, expected)).toEqual({ ok: true, position });
  });

  it('refuses a changed file, naming it and saying what to do', () => {
    const r = checkPosition({ ...position, fingerprint: { size: 1235, mtimeMs: fingerprint.mtimeMs } }, expected);
    expect(r).toEqual({
      ok: false,
      type: 'SourceChanged',
      message:
        "source file '/data/f.csv' changed since replay 'r1' started (size or modification time differ); start a new replay id to replay the new file",
    });
    expect(checkPosition(position, { ...expected, runs: 3 })).toMatchObject({ ok: false, type: 'SourceChanged' });
  });

  it('refuses another order and a record of an older format', () => {
    expect(checkPosition(position, { ...expected, order: 'file' })).toMatchObject({
      ok: false,
      type: 'InvalidReplayInput',
      message: expect.stringContaining('started in market order and cannot go on in file order') as string,
    });
    expect(checkPosition({ version: 7, consumed: 3 }, expected)).toMatchObject({
      ok: false,
      type: 'InvalidReplayInput',
      message: expect.stringContaining('format 7') as string,
    });
    expect(checkPosition(null, expected)).toMatchObject({ ok: false, type: 'InvalidReplayInput' });
  });

  it('resumes a record of the first format (file order, counted rows) by locating its row', () => {
    const first = { consumed: 3, produced: 2, rejected: 1, pass: 0, fingerprint, line: 4, updatedAt: 'x' };
    expect(checkPosition(first, { ...expected, order: 'file', runs: 1 })).toEqual({
      ok: true,
      locate: true,
      position: { ...first, version: POSITION_VERSION, order: 'file', cursors: [], done: false },
    });
    expect(checkPosition(first, expected)).toMatchObject({ ok: false, type: 'InvalidReplayInput' });
    expect(
      checkPosition({ ...first, fingerprint: { size: 1, mtimeMs: 2 } }, { ...expected, order: 'file' }),
    ).toMatchObject({
      ok: false,
      type: 'SourceChanged',
    });
  });

  it('keys the record by replay id', () => {
    expect(positionMessage('r1', position).key).toBe('r1');
  });
});

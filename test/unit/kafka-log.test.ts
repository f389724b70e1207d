import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../../src/adapters/kafka';

/** The lines the log creator writes for one entry, at a threshold. */
function linesFor(threshold: logLevel, entry: { namespace: string; level: logLevel; label: string; error?: string }) {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    kafkaLogCreator(threshold)({
      namespace: entry.namespace,
      level: entry.level,
      label: entry.label,
      log: {
        message: 'Response GroupCoordinator(key: 10, version: 2)',
        timestamp: '2026-12-06T01:32:32.148Z',
        error: entry.error,
        broker: '127.0.0.1:9092',
      },
    });
  } finally {
    spy.mockRestore();
  }
  return written.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('kafka log creator', () => {
  it.each([
    [
      'an error response that kafkajs retries (a fresh broker electing its coordinator)',
      'The group coordinator is not available',
    ],
    [
      'a rebalance, which the consumer answers by rejoining (a sink worker joined or left)',
      'The group is rebalancing, so a rejoin is needed',
    ],
  ])('does not report %s', (_what, error) => {
    const entry = { namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', error };
    expect(linesFor(logLevel.ERROR, entry)).toEqual([]);
    const [debug] = linesFor(logLevel.DEBUG, entry);
    expect(debug).toMatchObject({ level: 'DEBUG', logger: 'kafkajs', error, broker: '127.0.0.1:9092' });
  });

  it('reports every other error as kafkajs would, as one JSON line', () => {
    const lines = linesFor(logLevel.ERROR, {
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      error: 'Not authorized to access topics: [Topic authorization failed]',
    });
    expect(lines).toEqual([
      {
        level: 'ERROR',
        timestamp: '2026-12-06T01:32:32.148Z',
        logger: 'kafkajs',
        message: 'Response GroupCoordinator(key: 10, version: 2)',
        error: 'Not authorized to access topics: [Topic authorization failed]',
        broker: '127.0.0.1:9092',
      },
    ]);
  });

  it('keeps retriable errors from other parts of kafkajs (they are not per-request responses)', () => {
    const lines = linesFor(logLevel.ERROR, {
      namespace: 'Runner',
      level: logLevel.ERROR,
      label: 'ERROR',
      error: 'The group coordinator is not available',
    });
    expect(lines).toHaveLength(1);
  });

  it('drops entries above the threshold', () => {
    expect(linesFor(logLevel.ERROR, { namespace: 'Consumer', level: logLevel.INFO, label: 'INFO' })).toEqual([]);
    expect(linesFor(logLevel.INFO, { namespace: 'Consumer', level: logLevel.INFO, label: 'INFO' })).toHaveLength(1);
  });
});

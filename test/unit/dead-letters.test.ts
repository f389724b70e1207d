/** Reading dead letters back: the producer's messages and the sink's `_dlq/` lines. */
import { deadLetterMessage } from '../../src/message';
import { producerDeadLetter, sinkDeadLetters } from '../../src/dead-letters';

describe('producerDeadLetter', () => {
  it('reads what deadLetterMessage writes: line, reason, raw text, replay, when', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const m = deadLetterMessage(
      { source: 'f.csv', row: 7, reason: 'open is empty', raw: 'HSI,2020-01-02,,1,1,1,1,1,1', replay: 'r1' },
      at,
    );
    expect(m.headers.replay).toBe('r1');
    expect(producerDeadLetter(m.value, m.timestamp, 'ticks.dlq/0@5', m.headers)).toEqual({
      stage: 'producer',
      replay: 'r1',
      source: 'f.csv',
      line: 7,
      reason: 'open is empty',
      raw: 'HSI,2020-01-02,,1,1,1,1,1,1',
      at: '2026-01-02T03:04:05.000Z',
      where: 'ticks.dlq/0@5',
    });
  });

  it('reads an older dead letter without a replay id, and ignores what is not one', () => {
    const m = deadLetterMessage({ source: 'f.csv', row: 3, reason: 'empty line', raw: '' }, new Date(0));
    expect(producerDeadLetter(m.value, '1000', 'w')).toMatchObject({ line: 3, reason: 'empty line', raw: '' });
    expect(producerDeadLetter(m.value, '1000', 'w')).not.toHaveProperty('replay');
    expect(producerDeadLetter('not json', '1000', 'w')).toBeUndefined();
    expect(producerDeadLetter('{"symbol":"HSI"}', '1000', 'w')).toBeUndefined();
  });
});

describe('sinkDeadLetters', () => {
  it('reads each line of a _dlq object: the message value as text, its source line, reason and time', () => {
    const line = (value: string | null, headers: Record<string, string>) =>
      JSON.stringify({
        topic: 'ticks',
        partition: 2,
        offset: '41',
        timestamp: '1767323045000',
        reason: 'not valid JSON',
        key_base64: null,
        value_base64: value === null ? null : Buffer.from(value).toString('base64'),
        value_bytes: value?.length ?? 0,
        headers,
      });
    const text = `${line('HSI,1987,oops', { source: 'a.csv', row: '12' })}\n${line(null, {})}\n`;
    expect(sinkDeadLetters(text, 'lake/_dlq/ticks/2/00000000000000000041.json.gz')).toEqual([
      {
        stage: 'sink',
        source: 'a.csv',
        line: 12,
        reason: 'not valid JSON',
        raw: 'HSI,1987,oops',
        at: '2026-01-02T03:04:05.000Z',
        where: 'lake/_dlq/ticks/2/00000000000000000041.json.gz (ticks/2@41)',
      },
      {
        stage: 'sink',
        reason: 'not valid JSON',
        raw: '(no value)',
        at: '2026-01-02T03:04:05.000Z',
        where: 'lake/_dlq/ticks/2/00000000000000000041.json.gz (ticks/2@41)',
      },
    ]);
  });
});

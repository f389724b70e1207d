/**
 * The table's `timestamp.formats` as Athena's engine (Trino) reads them: java.time DateTimeFormatter
 * patterns. Checked with java.time itself (the JDK the local Kafka runs on): each pattern parses the
 * values it is there for, and the first parses what the lake writes (toISOString) to the same instant.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TIMESTAMP_FORMATS, storageDescriptor } from '../../src/catalog/glue-table';

const PROGRAM = `
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
public class ParseTimestamps {
  public static void main(String[] args) {
    for (int i = 0; i + 1 < args.length; i += 2) {
      try {
        System.out.println(LocalDateTime.parse(args[i + 1], DateTimeFormatter.ofPattern(args[i])));
      } catch (Exception e) {
        System.out.println("FAIL " + e.getClass().getSimpleName());
      }
    }
  }
}
`;

/** java.time's reading of each (pattern, value) pair: LocalDateTime text, or FAIL. */
function javaParse(pairs: [string, string][]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-formats-'));
  try {
    const source = path.join(dir, 'ParseTimestamps.java');
    fs.writeFileSync(source, PROGRAM);
    const out = execFileSync('java', [source, ...pairs.flat()], { encoding: 'utf8', timeout: 120_000 });
    return out.trim().split('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('timestamp.formats', () => {
  it('is the SerDe parameter of the table', () => {
    expect(storageDescriptor('s3://x/', []).SerdeInfo?.Parameters?.['timestamp.formats']).toBe(TIMESTAMP_FORMATS);
  });

  it('parses, read as java.time patterns, the timestamps the lake writes and the other forms it lists', () => {
    const [iso, isoSeconds, spaced, spacedSeconds] = TIMESTAMP_FORMATS.split(',');
    const written = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)).toISOString();
    expect(written).toBe('2024-01-02T03:04:05.678Z');
    expect(
      javaParse([
        [iso, written],
        [iso, '1999-12-31T23:59:59.000Z'],
        [isoSeconds, '2024-01-02T03:04:05Z'],
        [spaced, '2024-01-02 03:04:05.678'],
        [spacedSeconds, '2024-01-02 03:04:05'],
      ]),
    ).toEqual([
      '2024-01-02T03:04:05.678',
      '1999-12-31T23:59:59',
      '2024-01-02T03:04:05',
      '2024-01-02T03:04:05.678',
      '2024-01-02T03:04:05',
    ]);
  }, 120_000);
});

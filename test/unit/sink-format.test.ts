/** Records to bytes: NDJSON, gzip, and the zstd configuration error on Node.js without zstd. */
import zlib from 'node:zlib';
import { compressionProblem, compressionSupported, decodeLines, encodeLines, joinLines } from '../../src/sink/format';

const values = ['{"a":1}', '{"b":"x\\ny"}', '{"c":"é"}'].map((s) => Buffer.from(s));

describe('sink format', () => {
  it('joins values byte for byte, one per line', () => {
    expect(joinLines(values).toString()).toBe('{"a":1}\n{"b":"x\\ny"}\n{"c":"é"}\n');
    expect(joinLines([]).length).toBe(0);
  });

  it('gzip output is deterministic and decodes to the same lines', async () => {
    const a = await encodeLines(values, 'gzip');
    const b = await encodeLines(values, 'gzip');
    expect(a.equals(b)).toBe(true);
    expect(zlib.gunzipSync(a).toString()).toBe(joinLines(values).toString());
    expect(decodeLines(a, 'x.json.gz')).toEqual(values.map((v) => v.toString()));
    expect(decodeLines(await encodeLines(values, 'none'), 'x.json')).toEqual(values.map((v) => v.toString()));
  });

  it('refuses zstd with a clear message where Node.js has no zstd', async () => {
    expect(compressionProblem('gzip')).toBeUndefined();
    expect(compressionProblem('none')).toBeUndefined();
    if (compressionSupported('zstd')) {
      expect(decodeLines(await encodeLines(values, 'zstd'), 'x.json.zst')).toEqual(values.map((v) => v.toString()));
    } else {
      expect(compressionProblem('zstd')).toMatch(
        /SINK_COMPRESSION=zstd needs Node.js 22.15 or later .*set SINK_COMPRESSION to gzip or none/,
      );
      await expect(encodeLines(values, 'zstd')).rejects.toThrow('22.15');
    }
  });
});

/** Records to bytes: newline-delimited JSON, optionally compressed. */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Compression } from '../lake-layout';

const gzip = promisify(zlib.gzip);

type ZstdZlib = typeof zlib & { zstdCompress?: (buf: Buffer, cb: (err: Error | null, out: Buffer) => void) => void };

export function compressionSupported(compression: Compression): boolean {
  return compression !== 'zstd' || typeof (zlib as ZstdZlib).zstdCompress === 'function';
}

/** Concatenates JSON values into NDJSON and compresses the whole. The values are kept byte for byte. */
export async function encodeLines(values: readonly Buffer[], compression: Compression): Promise<Buffer> {
  const parts: Buffer[] = [];
  const newline = Buffer.from('\n');
  for (const v of values) parts.push(v, newline);
  const raw = Buffer.concat(parts);
  switch (compression) {
    case 'none':
      return raw;
    case 'gzip':
      return gzip(raw, { level: 6 });
    case 'zstd': {
      const z = zlib as ZstdZlib;
      if (!z.zstdCompress) throw new Error('SINK_COMPRESSION=zstd needs Node.js 22.15 or later; use gzip or none');
      return promisify(z.zstdCompress)(raw);
    }
  }
}

export function decodeLines(body: Buffer, key: string): string[] {
  const raw = key.endsWith('.gz') ? zlib.gunzipSync(body) : body;
  return raw
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/**
 * Records to bytes: newline-delimited JSON, optionally compressed. Pure apart from zlib.
 *
 * The output for a given list of values is deterministic (same bytes for the same input on the same
 * zlib), which is what lets a retry or a zombie rewrite an object with identical content.
 *
 * zstd: Node.js has it in zlib from 22.15; on older Node (the project runs on 20) SINK_COMPRESSION=zstd
 * is refused with a configuration error when the sink starts, rather than pulling in a native or wasm
 * codec that the crawler and the local query engine would then need as well.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Compression } from '../lake-layout';

const gzip = promisify(zlib.gzip);

/**
 * gzip level of data objects. Level 1 compresses tick NDJSON about 5x at several times the speed of
 * the default level 6 (which reaches about 6x); the sink is CPU-bound on gzip at high rates.
 */
export const GZIP_LEVEL = 1;

type ZstdZlib = typeof zlib & {
  zstdCompress?: (buf: Buffer, cb: (err: Error | null, out: Buffer) => void) => void;
};

export function compressionSupported(compression: Compression): boolean {
  return compression !== 'zstd' || typeof (zlib as ZstdZlib).zstdCompress === 'function';
}

/** Why a compression cannot be used here, or undefined when it can. */
export function compressionProblem(compression: Compression): string | undefined {
  return compressionSupported(compression)
    ? undefined
    : `SINK_COMPRESSION=zstd needs Node.js 22.15 or later (this is ${process.version}); set SINK_COMPRESSION to gzip or none`;
}

/** NDJSON of the values, kept byte for byte, each followed by a newline. */
export function joinLines(values: readonly Buffer[]): Buffer {
  let size = 0;
  for (const v of values) size += v.length + 1;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const v of values) {
    at += v.copy(out, at);
    out[at++] = 0x0a;
  }
  return out;
}

/** Concatenates JSON values into NDJSON and compresses the whole. */
export async function encodeLines(values: readonly Buffer[], compression: Compression): Promise<Buffer> {
  const raw = joinLines(values);
  switch (compression) {
    case 'none':
      return raw;
    case 'gzip':
      return gzip(raw, { level: GZIP_LEVEL });
    case 'zstd': {
      const problem = compressionProblem('zstd');
      if (problem) throw new Error(problem);
      return promisify((zlib as ZstdZlib).zstdCompress!)(raw);
    }
  }
}

/** The lines of an object written by {@link encodeLines}; the compression follows from the key's extension. */
export function decodeLines(body: Buffer, key: string): string[] {
  let raw = body;
  if (key.endsWith('.gz')) raw = zlib.gunzipSync(body);
  else if (key.endsWith('.zst')) {
    const z = zlib as ZstdZlib & { zstdDecompressSync?: (buf: Buffer) => Buffer };
    if (!z.zstdDecompressSync) throw new Error(`cannot read ${key}: zstd needs Node.js 22.15 or later`);
    raw = z.zstdDecompressSync(body);
  }
  return raw
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** The crawler's reads of the lake: listings, manifests, samples of data objects. Thin S3 I/O. */
import zlib from 'node:zlib';
import { paginateListObjectsV2, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { getObjectBuffer } from '../adapters/s3';
import type { FlushManifest } from '../sink/partition-writer';
import { mapLimit } from '../concurrency';
import { sampleLines } from './crawl-plan';

/** An S3 failure that retrying cannot fix (a missing bucket, denied access). */
export class LakeAccessError extends Error {
  override name = 'LakeAccessError';
  constructor(
    message: string,
    readonly type: 'MissingBucket' | 'LakeAccessDenied',
  ) {
    super(message);
  }
}

function status(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

function classify(err: unknown, bucket: string, what: string): unknown {
  const name = (err as Error).name;
  if (name === 'NoSuchBucket') {
    return new LakeAccessError(`bucket '${bucket}' does not exist; create it or set LAKE_BUCKET`, 'MissingBucket');
  }
  if (status(err) === 403 || name === 'AccessDenied') {
    return new LakeAccessError(
      `access to s3://${bucket}/${what} was denied; grant the worker's role s3:ListBucket and s3:GetObject on the lake`,
      'LakeAccessDenied',
    );
  }
  return err;
}

/** Every key under a prefix, after `startAfter` if given, in key order. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string, startAfter?: string): Promise<string[]> {
  const keys: string[] = [];
  try {
    for await (const page of paginateListObjectsV2(
      { client: s3, pageSize: 1000 },
      { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) },
    )) {
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    }
  } catch (err) {
    throw classify(err, bucket, prefix);
  }
  return keys;
}

/** The "folders" directly below a prefix (CommonPrefixes with delimiter '/'). */
export async function listFolders(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const page of paginateListObjectsV2(
      { client: s3 },
      { Bucket: bucket, Prefix: prefix, Delimiter: '/' },
    )) {
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix);
    }
  } catch (err) {
    throw classify(err, bucket, prefix);
  }
  return out;
}

/** The shared bounded map (src/concurrency.ts), here too for the modules that import it from the lake scan. */
export { mapLimit };

/** Manifest folders `<root><group>/<topic>/<partition>/` (three levels of listing, each in parallel). */
export async function listManifestFolders(s3: S3Client, bucket: string, root: string): Promise<string[]> {
  let level = [root];
  for (let depth = 0; depth < 3; depth++) {
    level = (await mapLimit(level, 8, (p) => listFolders(s3, bucket, p))).flat();
  }
  return level.sort();
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    return await getObjectBuffer(s3, bucket, key);
  } catch (err) {
    if (status(err) === 404) return undefined;
    throw classify(err, bucket, key);
  }
}

export type ManifestRead =
  { status: 'ok'; manifest: FlushManifest } | { status: 'missing' } | { status: 'unreadable'; reason: string };

export async function readManifest(s3: S3Client, bucket: string, key: string): Promise<ManifestRead> {
  const bytes = await getBytes(s3, bucket, key);
  if (!bytes) return { status: 'missing' };
  try {
    const m = JSON.parse(bytes.toString('utf8')) as FlushManifest;
    if (!Array.isArray(m.files)) return { status: 'unreadable', reason: 'no files list' };
    return { status: 'ok', manifest: m };
  } catch (err) {
    return { status: 'unreadable', reason: `not JSON: ${(err as Error).message}` };
  }
}

export type SampleRead =
  | { status: 'ok'; records: Record<string, unknown>[]; malformedLines: number }
  | { status: 'missing' }
  | { status: 'unreadable'; reason: string };

function decompress(body: Buffer, key: string): Buffer {
  if (key.endsWith('.gz')) return zlib.gunzipSync(body);
  if (key.endsWith('.zst')) {
    const z = zlib as typeof zlib & { zstdDecompressSync?: (b: Buffer) => Buffer };
    if (!z.zstdDecompressSync) throw new Error('zstd objects need Node.js 22.15 or later to be sampled');
    return z.zstdDecompressSync(body);
  }
  return body;
}

/**
 * Reads one data object and returns up to `maxLines` of its JSON records, spread over the object.
 * An object that cannot be decompressed, or has no JSON object on any line, is `unreadable`: it is
 * reported, never retried.
 */
export async function readSample(s3: S3Client, bucket: string, key: string, maxLines: number): Promise<SampleRead> {
  const body = await getBytes(s3, bucket, key);
  if (!body) return { status: 'missing' };
  let text: string;
  try {
    text = decompress(body, key).toString('utf8');
  } catch (err) {
    return { status: 'unreadable', reason: `cannot decompress: ${(err as Error).message}` };
  }
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  const records: Record<string, unknown>[] = [];
  let malformed = 0;
  for (const line of sampleLines(lines, maxLines)) {
    try {
      const v: unknown = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) records.push(v as Record<string, unknown>);
      else malformed++;
    } catch {
      malformed++;
    }
  }
  if (records.length === 0 && lines.length > 0) {
    return {
      status: 'unreadable',
      reason: `none of ${Math.min(lines.length, maxLines)} sampled lines is a JSON object`,
    };
  }
  return { status: 'ok', records, malformedLines: malformed };
}

/** Reads and writes the curated zone's numbered states (src/compact/state.ts) in the lake bucket. */
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { getJson, putIfAbsent } from '../adapters/s3';
import { listKeys } from '../catalog/lake-scan';
import { compactRoot, stateKey, type CompactState } from './state';

/** States kept besides the newest: readers that started on an older one finish on it. */
const KEEP_STATES = 20;

export interface StateRef {
  key: string;
  state: CompactState;
}

function statePrefix(prefix: string, database: string, table: string): string {
  return `${compactRoot(prefix, database, table)}state/`;
}

/** The newest state of a table, or undefined when it was never compacted. */
export async function readLatestState(
  s3: S3Client,
  bucket: string,
  prefix: string,
  database: string,
  table: string,
  after?: string,
): Promise<StateRef | undefined> {
  const keys = await listKeys(s3, bucket, statePrefix(prefix, database, table), after);
  for (let i = keys.length - 1; i >= 0; i--) {
    const state = await getJson<CompactState>(s3, bucket, keys[i]);
    if (state) return { key: keys[i], state };
  }
  return undefined;
}

/**
 * Writes the next generation of the state. False when that generation exists already: another
 * compaction committed first, and this one must not switch anything.
 */
export async function commitState(s3: S3Client, bucket: string, prefix: string, state: CompactState): Promise<boolean> {
  const key = stateKey(prefix, state.database, state.table, state.generation);
  return putIfAbsent(s3, bucket, key, JSON.stringify(state));
}

/** Removes states older than the newest KEEP_STATES. */
export async function pruneStates(
  s3: S3Client,
  bucket: string,
  prefix: string,
  database: string,
  table: string,
): Promise<number> {
  const keys = await listKeys(s3, bucket, statePrefix(prefix, database, table));
  const old = keys.slice(0, Math.max(0, keys.length - KEEP_STATES));
  await deleteKeys(s3, bucket, old);
  return old.length;
}

/** Deletes keys, 1,000 per request (missing keys are not an error). */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
    );
    const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (errors.length > 0)
      throw new Error(
        `could not delete ${errors.length} object(s), e.g. ${errors[0].Key}: ${errors[0].Code} ${errors[0].Message ?? ''}`,
      );
  }
}

/**
 * The newest state of a table for a reader that asks before every query: one listing after the last
 * state it knows, and a read only when there is a newer one.
 */
export class StateReader {
  private readonly known = new Map<string, StateRef>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async latest(database: string, table: string): Promise<CompactState | undefined> {
    const id = `${database}.${table}`;
    const known = this.known.get(id);
    const newer = await readLatestState(this.s3, this.bucket, this.prefix, database, table, known?.key);
    if (newer) {
      this.known.set(id, newer);
      return newer.state;
    }
    return known?.state;
  }
}

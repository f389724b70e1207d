/**
 * The local engine's disk cache: one Parquet copy per lake object, keyed by the object's ETag and the
 * table's shape, bounded in bytes with least-recently-used eviction.
 *
 * Copies are written under a temporary name and renamed into place, so processes may share the
 * directory. A copy in use by a running query is pinned and never evicted by this process; another
 * process's eviction can still remove it, and the query then fails with a retryable error.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface CachedObjectId {
  bucket: string;
  key: string;
  etag: string;
  /** What else the copy depends on (the table's columns and types). */
  shape: string;
}

interface Entry {
  size: number;
  usedAt: number;
}

const COPY = /\.[0-9a-f]{16}\.parquet$/;
/** Work directories of `make` calls (workDir); one left by a killed process is removed after an hour. */
const WORK_DIR_PREFIX = '.work-';
const WORK_DIR_MAX_AGE_MS = 60 * 60_000;

export class ObjectCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;
  private scanned?: Promise<void>;
  private readonly making = new Map<string, Promise<void>>();
  private readonly root: string;

  /** @param maxBytes bytes of copies kept at most, after each query. */
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.root = path.join(dir, 'parquet');
  }

  /** Bytes of the copies on disk, as far as this process knows. */
  get bytes(): number {
    return this.total;
  }

  fileFor(id: CachedObjectId): string {
    const version = createHash('sha256').update(`${id.etag}\u0000${id.shape}`).digest('hex').slice(0, 16);
    return path.join(this.root, id.bucket, `${id.key}.${version}.parquet`);
  }

  /**
   * The copy of an object, made by `make(file)` when it is not on disk yet. `downloaded` tells whether
   * this call made it.
   */
  async get(id: CachedObjectId, make: (file: string) => Promise<void>): Promise<{ file: string; downloaded: boolean }> {
    await this.scan();
    const file = this.fileFor(id);
    const known = this.entries.get(file);
    if (known) {
      known.usedAt = Date.now();
      return { file, downloaded: false };
    }
    let pending = this.making.get(file);
    let downloaded = false;
    if (!pending) {
      pending = (async () => {
        const size = await fs.promises.stat(file).then(
          (s) => s.size,
          () => undefined,
        );
        if (size === undefined) {
          downloaded = true;
          await make(file);
        }
      })();
      this.making.set(file, pending);
      pending.finally(() => this.making.delete(file)).catch(() => undefined);
    }
    await pending;
    if (!this.entries.has(file)) {
      const size = (await fs.promises.stat(file)).size;
      this.entries.set(file, { size, usedAt: Date.now() });
      this.total += size;
    }
    return { file, downloaded };
  }

  /**
   * The copies of many objects at once: those not on disk yet are made together by one call of
   * `make(missing)`, which writes each `file` (under a temporary name, then renamed). A copy another
   * call is making is waited for, not made twice. `downloaded` tells, per id, whether this call made it.
   */
  async getMany(
    ids: readonly CachedObjectId[],
    make: (missing: { index: number; file: string }[]) => Promise<void>,
  ): Promise<{ file: string; downloaded: boolean }[]> {
    await this.scan();
    const now = Date.now();
    const out = ids.map((id) => ({ file: this.fileFor(id), downloaded: false }));
    const waits: Promise<void>[] = [];
    const claimed: { index: number; file: string; done: () => void; failed: (err: unknown) => void }[] = [];
    for (const [index, o] of out.entries()) {
      const known = this.entries.get(o.file);
      if (known) {
        known.usedAt = now;
        continue;
      }
      const pending = this.making.get(o.file);
      if (pending) {
        waits.push(pending);
        continue;
      }
      // Claimed before any await, so that a concurrent call waits for this one instead of making it too.
      let done!: () => void;
      let failed!: (err: unknown) => void;
      const promise = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
      promise.catch(() => undefined);
      this.making.set(o.file, promise);
      claimed.push({ index, file: o.file, done, failed });
    }
    try {
      const onDisk = await Promise.all(
        claimed.map((c) =>
          fs.promises.stat(c.file).then(
            () => true,
            () => false,
          ),
        ),
      );
      const missing = claimed.filter((_, i) => !onDisk[i]);
      for (const m of missing) out[m.index].downloaded = true;
      if (missing.length > 0) await make(missing.map(({ index, file }) => ({ index, file })));
      for (const c of claimed) c.done();
    } catch (err) {
      for (const c of claimed) c.failed(err);
      throw err;
    } finally {
      for (const c of claimed) this.making.delete(c.file);
    }
    await Promise.all(waits);
    for (const o of out) {
      if (this.entries.has(o.file)) continue;
      const size = (await fs.promises.stat(o.file)).size;
      if (this.entries.has(o.file)) continue;
      this.entries.set(o.file, { size, usedAt: Date.now() });
      this.total += size;
    }
    return out;
  }

  /** A directory under the cache's own for work files of `make` (same file system: renames stay renames). */
  async workDir(): Promise<string> {
    await this.scan();
    return fs.promises.mkdtemp(path.join(this.root, `${WORK_DIR_PREFIX}${process.pid}-`));
  }

  /** Removes the least recently used copies not in `pinned` until the cache is within its bound. */
  async evict(pinned: ReadonlySet<string>): Promise<number> {
    if (this.total <= this.maxBytes) return 0;
    const target = this.maxBytes * 0.9;
    let removed = 0;
    const byAge = [...this.entries].filter(([f]) => !pinned.has(f)).sort(([, a], [, b]) => a.usedAt - b.usedAt);
    for (const [file, entry] of byAge) {
      if (this.total <= target) break;
      await fs.promises.rm(file, { force: true });
      this.entries.delete(file);
      this.total -= entry.size;
      removed++;
    }
    return removed;
  }

  /** Learns the copies already on disk (from earlier runs or other processes), once. */
  private scan(): Promise<void> {
    this.scanned ??= (async () => {
      await fs.promises.mkdir(this.root, { recursive: true });
      // Raw objects of the cache's first format (before copies were Parquet) are no longer read.
      for (const entry of await fs.promises.readdir(this.dir, { withFileTypes: true })) {
        if (entry.name !== 'parquet')
          await fs.promises.rm(path.join(this.dir, entry.name), { recursive: true, force: true });
      }
      const walk = async (dir: string): Promise<void> => {
        for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory() && dir === this.root && entry.name.startsWith(WORK_DIR_PREFIX)) {
            const s = await fs.promises.stat(full).catch(() => undefined);
            if (s && Date.now() - s.mtimeMs > WORK_DIR_MAX_AGE_MS)
              await fs.promises.rm(full, { recursive: true, force: true });
          } else if (entry.isDirectory()) await walk(full);
          else if (COPY.test(entry.name)) {
            const s = await fs.promises.stat(full).catch(() => undefined);
            if (s && !this.entries.has(full)) {
              this.entries.set(full, { size: s.size, usedAt: s.mtimeMs });
              this.total += s.size;
            }
          }
        }
      };
      await walk(this.root);
    })();
    this.scanned.catch(() => (this.scanned = undefined));
    return this.scanned;
  }
}

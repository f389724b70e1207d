import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectCache } from '../../src/query/object-cache';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-object-cache-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const id = (key: string, etag = '"e1"') => ({ bucket: 'b', key, etag, shape: 's' });
const maker = (bytes: number, made: string[]) => async (file: string) => {
  made.push(file);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await fs.promises.writeFile(file, Buffer.alloc(bytes));
};

describe('the local engine’s object cache', () => {
  it('makes a copy once per ETag and shape; a new ETag makes a new copy', async () => {
    const cache = new ObjectCache(dir, 1e9);
    const made: string[] = [];
    const a = await cache.get(id('t/x.json.gz'), maker(100, made));
    const again = await cache.get(id('t/x.json.gz'), maker(100, made));
    expect(a.downloaded).toBe(true);
    expect(again).toEqual({ file: a.file, downloaded: false });
    const changed = await cache.get(id('t/x.json.gz', '"e2"'), maker(100, made));
    expect(changed.downloaded).toBe(true);
    expect(changed.file).not.toBe(a.file);
    expect(cache.fileFor({ ...id('t/x.json.gz'), shape: 'other' })).not.toBe(a.file);
    expect(made).toHaveLength(2);
    expect(cache.bytes).toBe(200);
  });

  it('makes a copy once when asked for it concurrently', async () => {
    const cache = new ObjectCache(dir, 1e9);
    const made: string[] = [];
    const results = await Promise.all([1, 2, 3].map(() => cache.get(id('t/y.json.gz'), maker(10, made))));
    expect(made).toHaveLength(1);
    expect(new Set(results.map((r) => r.file)).size).toBe(1);
    expect(results.filter((r) => r.downloaded)).toHaveLength(1);
  });

  it('evicts the least recently used copies beyond its bound, never a pinned one', async () => {
    const cache = new ObjectCache(dir, 250);
    const made: string[] = [];
    const files: string[] = [];
    for (const k of ['a', 'b', 'c', 'd']) {
      files.push((await cache.get(id(`t/${k}.json.gz`), maker(100, made))).file);
      await new Promise((r) => setTimeout(r, 5));
    }
    await cache.get(id('t/a.json.gz'), maker(100, made)); // a is now the most recent
    expect(cache.bytes).toBe(400);
    const removed = await cache.evict(new Set([files[1]])); // b pinned
    expect(removed).toBe(2);
    expect(cache.bytes).toBe(200);
    expect(files.map((f) => fs.existsSync(f))).toEqual([true, true, false, false]);
    expect(await cache.evict(new Set())).toBe(0);
  });

  it('knows the copies left on disk by an earlier process and drops raw files of the older format', async () => {
    const made: string[] = [];
    const first = new ObjectCache(dir, 1e9);
    const { file } = await first.get(id('t/z.json.gz'), maker(42, made));
    fs.mkdirSync(path.join(dir, 'b', 't'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'b', 't', 'old.json.gz'), 'raw');
    const second = new ObjectCache(dir, 1e9);
    expect(await second.get(id('t/z.json.gz'), maker(42, made))).toEqual({ file, downloaded: false });
    expect(second.bytes).toBe(42);
    expect(fs.existsSync(path.join(dir, 'b'))).toBe(false);
    expect(made).toHaveLength(1);
  });
  it('makes many copies in one call, only those missing, and once when asked for them concurrently', async () => {
    const cache = new ObjectCache(dir, 1e9);
    const made: string[] = [];
    await cache.get(id('t/a.json.gz'), maker(10, made));
    const calls: string[][] = [];
    const makeMany = async (missing: { index: number; file: string }[]) => {
      calls.push(missing.map((m) => m.file));
      await new Promise((r) => setTimeout(r, 20));
      for (const m of missing) await maker(10, made)(m.file);
    };
    const ids = ['a', 'b', 'c'].map((k) => id(`t/${k}.json.gz`));
    const [one, two] = await Promise.all([cache.getMany(ids, makeMany), cache.getMany(ids.slice(1), makeMany)]);
    expect(calls).toEqual([[cache.fileFor(ids[1]), cache.fileFor(ids[2])]]);
    expect(one.map((r) => r.downloaded)).toEqual([false, true, true]);
    expect(two.map((r) => r.downloaded)).toEqual([false, false]);
    expect(two.map((r) => r.file)).toEqual(one.slice(1).map((r) => r.file));
    expect(cache.bytes).toBe(30);
    expect(made).toHaveLength(3);
  });

  it('fails every copy of a call whose make fails, and makes them again on the next call', async () => {
    const cache = new ObjectCache(dir, 1e9);
    const ids = ['a', 'b'].map((k) => id(`t/${k}.json.gz`));
    await expect(cache.getMany(ids, () => Promise.reject(new Error('S3 unreachable')))).rejects.toThrow(
      'S3 unreachable',
    );
    const made: string[] = [];
    const again = await cache.getMany(ids, async (missing) => {
      for (const m of missing) await maker(5, made)(m.file);
    });
    expect(again.map((r) => r.downloaded)).toEqual([true, true]);
    expect(cache.bytes).toBe(10);
  });

  it('removes work folders an earlier process left behind after an hour, not newer ones', async () => {
    const first = new ObjectCache(dir, 1e9);
    const old = await first.workDir();
    const fresh = await first.workDir();
    const hourAgo = new Date(Date.now() - 2 * 60 * 60_000);
    fs.utimesSync(old, hourAgo, hourAgo);
    await new ObjectCache(dir, 1e9).getMany([], () => Promise.resolve());
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
  });
});

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
});

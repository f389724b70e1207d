/**
 * The page's files, built from the project when the server starts: the page's script bundled with
 * uPlot by esbuild (minified), its style sheet with uPlot's, and the HTML. Nothing comes from the
 * network at run time; each file is also kept gzipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface Asset {
  path: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const PAGE_DIR = path.join(__dirname, 'page');

function asset(p: string, type: string, body: Buffer): Asset {
  return {
    path: p,
    type,
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`,
  };
}

/** Builds the page's assets (about 0.1 s); keyed by URL path. */
export async function buildAssets(): Promise<Map<string, Asset>> {
  const script = await build({
    entryPoints: [path.join(PAGE_DIR, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const css = Buffer.concat([
    fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css')),
    Buffer.from('\n'),
    fs.readFileSync(path.join(PAGE_DIR, 'style.css')),
  ]);
  const all = [
    asset('/', 'text/html; charset=utf-8', fs.readFileSync(path.join(PAGE_DIR, 'index.html'))),
    asset('/app.js', 'text/javascript; charset=utf-8', Buffer.from(script.outputFiles[0].contents)),
    asset('/app.css', 'text/css; charset=utf-8', css),
  ];
  return new Map(all.map((a) => [a.path, a]));
}

/** Bytes of each asset, raw and gzipped: what a first visit downloads. */
export function assetSizes(assets: Map<string, Asset>): { path: string; bytes: number; gzipBytes: number }[] {
  return [...assets.values()].map((a) => ({ path: a.path, bytes: a.body.length, gzipBytes: a.gzip.length }));
}

#!/usr/bin/env node
/*
 * `npm run build`: compiles the TypeScript of src/, workflows/ and activities/ to JavaScript in dist/
 * (one file per source, same layout) and writes the worker's Temporal workflow bundle,
 * dist/workflow-bundle.js. The CLI, the worker and `npm start` run this output; tsx runs the sources
 * only in development and tests.
 *
 * `node scripts/build.js --if-stale` builds only when a source is newer than the last build (or one
 * was added or removed): a walk of the source folders, a few milliseconds. bin/ticklake.js asks the
 * same question (staleReason) before each command, and runs the sources through tsx when the build
 * is missing or older than them, so a command never runs code older than the checkout.
 *
 * Plain JavaScript, loaded by bin/ticklake.js on every command: nothing heavier than node:fs at the
 * top; esbuild and Temporal's bundler are loaded only to build.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const SOURCE_DIRS = ['src', 'workflows', 'activities'];
/** Besides the sources, a change of these rebuilds: the dependencies (the bundle holds Temporal's workflow library) and this script. */
const INPUTS = ['package-lock.json', 'scripts/build.js'];
/** Written last by a build: the number of sources it compiled; its mtime is the build's time. */
const STAMP = path.join(DIST, 'build.json');
/** The worker's workflow code, bundled at build time (src/worker.ts passes it as workflowBundle). */
const WORKFLOW_BUNDLE = path.join(DIST, 'workflow-bundle.js');

function sourceFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(ROOT, d));
  return out;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Why dist/ cannot be run as it is (no build, a source newer than it, a source added or removed),
 * or undefined when it is up to date with the checkout.
 */
function staleReason() {
  const built = mtime(STAMP);
  if (built < 0) return 'no build in dist/';
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP, 'utf8'));
  } catch {
    return 'no build in dist/';
  }
  const sources = sourceFiles();
  if (stamp.sources !== sources.length) return 'a source was added or removed since the last build';
  for (const f of [...sources, ...INPUTS.map((i) => path.join(ROOT, i))]) {
    if (mtime(f) > built) return `${path.relative(ROOT, f)} changed since the last build`;
  }
  if (mtime(WORKFLOW_BUNDLE) < 0) return 'no workflow bundle in dist/';
  return undefined;
}

/** Compiles every source and writes the workflow bundle; prints each step on stderr. */
async function build() {
  const esbuild = require('esbuild');
  const { bundleWorkflowCode } = require('@temporalio/worker');
  const t0 = Date.now();
  const sources = sourceFiles();
  // Built beside dist/ and swapped in at the end, so that a command started meanwhile runs the old build
  // whole rather than half of the new one.
  const next = `${DIST}.next-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  // Type checking is tsc's job (npm run typecheck, npm test); this only strips types, file by file.
  await esbuild.build({
    entryPoints: sources,
    outdir: next,
    outbase: ROOT,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  console.error(`build: compiled ${sources.length} TypeScript files to dist/ (${Date.now() - t0} ms)`);
  const t1 = Date.now();
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(next, 'workflows', 'index.js'),
    // Webpack's own report is long; its errors still fail the bundle.
    logger: {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn: (m) => console.error(m),
      error: (m) => console.error(m),
    },
  });
  fs.writeFileSync(path.join(next, path.basename(WORKFLOW_BUNDLE)), code);
  console.error(`build: workflow bundle dist/workflow-bundle.js (${Date.now() - t1} ms)`);
  fs.writeFileSync(
    path.join(next, path.basename(STAMP)),
    JSON.stringify({ sources: sources.length, builtAt: new Date().toISOString() }) + '\n',
  );
  const old = `${DIST}.old-${process.pid}`;
  if (fs.existsSync(DIST)) fs.renameSync(DIST, old);
  fs.renameSync(next, DIST);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Builds when dist/ is stale; returns whether it built. */
async function ensureBuilt() {
  const reason = staleReason();
  if (reason === undefined) return false;
  console.error(`build: ${reason}; compiling to dist/ (a few seconds)`);
  await build();
  return true;
}

module.exports = { staleReason, build, ensureBuilt, DIST, WORKFLOW_BUNDLE };

if (require.main === module) {
  const ifStale = process.argv.includes('--if-stale');
  (ifStale ? ensureBuilt() : build()).then(
    () => undefined,
    (err) => {
      console.error(`error: the build failed: ${err && err.message ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

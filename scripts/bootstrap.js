#!/usr/bin/env node
/*
 * Entry of `npm start` and `npm test` on a fresh clone: installs the npm dependencies when they are
 * missing or older than package-lock.json, then hands over to the TypeScript entry point.
 * Plain JavaScript with no dependencies, because it runs before `npm ci`.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.error) {
    console.error(`error: could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status ?? 1;
}

if (mtime(installed) < 0 || mtime(installed) < mtime(lock)) {
  // `npm install` with the committed lock installs the pinned versions; unlike `npm ci` it accepts a
  // lock that lists only this platform's optional packages, as npm 11 writes them.
  console.log('installing npm dependencies...');
  const status = run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error']);
  if (status !== 0) {
    console.error('error: npm install failed; check your access to the npm registry and run the command again');
    process.exit(status);
  }
}

const [what, ...rest] = process.argv.slice(2);
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const entry = { start: 'src/main.ts', test: 'scripts/test.ts' }[what];
if (!entry) {
  console.error('usage: bootstrap.js start|test [args...]');
  process.exit(2);
}
process.exit(run(tsx, [path.join(root, entry), ...rest]));

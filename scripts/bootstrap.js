#!/usr/bin/env node
/*
 * Entry of `npm start` and `npm test` on a fresh clone: installs the npm dependencies when they are
 * missing or older than package-lock.json, compiles the sources to dist/ when they are newer than the last
 * build, then hands over to the compiled entry point (`start`) or the test runner (`test`).
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

/**
 * glibc's malloc keeps an arena per thread that allocates (the worker's: Temporal's core, libuv's pool,
 * DuckDB's), and memory freed in one is seldom given back: two arenas keep the worker's peak RSS about
 * 60 MB lower with no measured cost (docs/architecture.md, "Bounded memory"). A value set by the user wins.
 */
const WORKER_ENV = { MALLOC_ARENA_MAX: '2' };

/**
 * V8 grows the old generation up to four times its live size before a full collection; the sink's
 * Kafka client makes about 2.5 KB of short-lived objects per record, so most of a busy worker's heap
 * was garbage waiting. Twice the live size kept the worker's peak RSS over four drains of the real
 * file at 423-428 MB against 526-553 MB, with no slower drains (docs/architecture.md, "Bounded memory").
 */
const WORKER_NODE_FLAGS = ['--heap-growing-percent=100'];

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) {
    console.error(`error: could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status ?? 1;
}

/*
 * The replay producer runs on librdkafka (@confluentinc/kafka-javascript). Its install downloads a
 * prebuilt binary when it can and otherwise builds librdkafka from the package's own source, linked
 * against the system's compression, TLS and SASL libraries (CKJS_LINKING=dynamic): on Debian and Ubuntu
 * these are the packages below.
 */
const NATIVE_BINDING = path.join(
  root,
  'node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node',
);
const BUILD_PACKAGES = [
  'zlib1g-dev',
  'libssl-dev',
  'libzstd-dev',
  'liblz4-dev',
  'libsasl2-dev',
  'libcurl4-openssl-dev',
];

function missingDebianPackages(packages = BUILD_PACKAGES) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\\n', ...packages], {
    encoding: 'utf8',
  });
  if (r.error) return []; // not a Debian system: the prebuilt binary or the system's own libraries
  // One line per installed package: "<name> ii "; packages dpkg does not know are left out.
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => / ii$/.test(l.trim()))
      .map((l) => l.split(' ')[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

/** apt-get install, with an update of the package lists when the first try fails; whether it worked. */
function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    r = install();
  }
  return r.status === 0;
}

/*
 * The dashboard's tests drive a real headless browser: Chromium from Debian's packages (playwright-core
 * downloads no browser). `npm test` installs it when it is missing; elsewhere set TICKLAKE_CHROMIUM.
 */
const TEST_PACKAGES = ['chromium'];

function ensureTestPackages() {
  if (process.platform !== 'linux' || process.env.TICKLAKE_CHROMIUM) return;
  const missing = missingDebianPackages(TEST_PACKAGES);
  if (missing.length === 0) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.log(`note: the dashboard's browser tests need Chromium: sudo apt-get install ${missing.join(' ')}`);
    return;
  }
  console.log(`installing the browser of the dashboard's tests (Debian packages): ${missing.join(' ')}`);
  if (!aptInstall(missing)) {
    console.error(`warning: could not install ${missing.join(' ')}; the dashboard's browser tests will be skipped`);
  }
}

function ensureBuildPackages() {
  if (process.platform !== 'linux') return;
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.log(
      `note: if the Kafka client cannot download its prebuilt binary it builds librdkafka, which needs: ` +
        `sudo apt-get install ${missing.join(' ')}`,
    );
    return;
  }
  console.log(`installing the libraries librdkafka builds against (Debian packages): ${missing.join(' ')}`);
  if (!aptInstall(missing)) {
    console.error(`error: could not install ${missing.join(' ')} with apt-get; install them and run the command again`);
    process.exit(1);
  }
}

if (mtime(installed) < 0 || mtime(installed) < mtime(lock) || mtime(NATIVE_BINDING) < 0) {
  // `npm install` with the committed lock installs the pinned versions; unlike `npm ci` it accepts a
  // lock that lists only this platform's optional packages, as npm 11 writes them.
  ensureBuildPackages();
  console.log('installing npm dependencies (the first time, this builds the Kafka client: about 2 minutes)...');
  process.env.CKJS_LINKING = process.env.CKJS_LINKING || 'dynamic';
  const install = () => run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error']);
  let status = install();
  if (status !== 0) {
    // librdkafka's parallel build has failed once in a while on its own generated config.h ("No such file
    // or directory" with the file written a moment later); the same install then succeeds.
    console.log('npm install failed; trying once more (the Kafka client build is occasionally flaky)...');
    status = install();
  }
  if (status !== 0) {
    console.error('error: npm install failed; check your access to the npm registry and run the command again');
    process.exit(status);
  }
}

const [what, ...rest] = process.argv.slice(2);
if (what !== 'start' && what !== 'test') {
  console.error('usage: bootstrap.js start|test [args...]');
  process.exit(2);
}
if (what === 'test') ensureTestPackages();

// The compiled code in dist/ (scripts/build.js): built when a source is newer than it, which a look at
// the files' times tells in a few milliseconds.
require('./build.js')
  .ensureBuilt()
  .then(
    () => {
      // `npm start` runs the build; `npm test` runs its runner from the sources (tsx), and the tests that
      // spawn the CLI run the build through bin/ticklake.js.
      const [cmd, args] =
        what === 'start'
          ? [process.execPath, [...WORKER_NODE_FLAGS, path.join(root, 'dist', 'src', 'main.js'), ...rest]]
          : [path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'scripts', 'test.ts'), ...rest]];
      process.exit(run(cmd, args, what === 'start' ? { ...WORKER_ENV, ...process.env } : process.env));
    },
    (err) => {
      console.error(`error: the build failed: ${err && err.message ? err.message : String(err)}`);
      process.exit(1);
    },
  );

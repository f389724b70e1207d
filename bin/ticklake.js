#!/usr/bin/env node
/*
 * The `ticklake` command. Runs the compiled CLI in dist/ (`npm run build`; `npm start` and `npm test`
 * build it when needed), which starts in a fraction of the time TypeScript takes to compile. When the
 * build is missing or older than the sources, or TICKLAKE_FROM_SOURCE=1, it runs the TypeScript
 * sources through tsx instead, so a command never runs code older than the checkout.
 */
'use strict';
const { staleReason } = require('../scripts/build.js');

const fromSource = process.env.TICKLAKE_FROM_SOURCE === '1' || process.env.TICKLAKE_FROM_SOURCE === 'true';
const stale = fromSource ? undefined : staleReason();
if (!fromSource && stale === undefined) {
  void require('../dist/src/cli/index.js').main();
} else {
  if (stale)
    console.error(`note: running from the TypeScript sources (${stale}); 'npm run build' makes commands start faster`);
  require('tsx/cjs');
  void require('../src/cli/index.ts').main();
}

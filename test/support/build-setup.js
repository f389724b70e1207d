/*
 * Jest's global setup: tests that spawn the CLI (bin/ticklake.js) or the compiled worker run the build in
 * dist/, so it is brought up to date before any test runs: a look at the files' times when it is, a
 * build of a few seconds after an edit. Without it, a run of jest after an edit would test the
 * sources through tsx instead, with a note on every command's stderr.
 */
'use strict';
module.exports = async () => {
  await require('../../scripts/build.js').ensureBuilt();
};

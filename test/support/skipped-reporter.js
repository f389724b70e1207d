/**
 * Jest reporter: after the run, lists every skipped test with its title (a test skipped for want of
 * something in the environment says what in its title), then one closing line
 * 'Tests: N passed, N failed, N skipped'. A skipped test never counts as passed.
 */
const fs = require('node:fs');

class SkippedReporter {
  onRunComplete(_contexts, results) {
    const skipped = [];
    for (const file of results.testResults) {
      for (const t of file.testResults) {
        if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') {
          skipped.push(
            `${[...t.ancestorTitles, t.title].join(' › ')} (${file.testFilePath.replace(process.cwd() + '/', '')})`,
          );
        }
      }
    }
    const lines = [''];
    if (skipped.length > 0) {
      lines.push(`Skipped tests (${skipped.length}), not counted as passed:`);
      for (const s of skipped) lines.push(`  - ${s}`);
    }
    lines.push(
      `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`,
    );
    // At exit, so that these are the run's last lines, after jest's own summary.
    process.once('exit', () => fs.writeSync(2, `${lines.join('\n')}\n`));
  }
}

module.exports = SkippedReporter;

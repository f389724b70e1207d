/** The checkout's root, whether this code runs from the sources or from the build in dist/. */
import fs from 'node:fs';
import path from 'node:path';

/** The nearest folder above this file that holds package.json: src/.. from the sources, dist/src/../.. from the build. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

export const REPO_ROOT = findRoot(__dirname);

#!/usr/bin/env node
// The `ticklake` command: runs the TypeScript CLI through tsx's loader.
'use strict';
require('tsx/cjs');
void require('../src/cli/index.ts').main();

#!/usr/bin/env node
'use strict';
const path = require('path');
let cli;
try {
  cli = require('../dist/src/cli/main');
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(path.join('dist', 'src', 'cli', 'main'))) throw e;
  process.stderr.write('blip-itm: not built yet: run `npm run build` in ' + path.resolve(__dirname, '..') + '\n');
  process.exit(1);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

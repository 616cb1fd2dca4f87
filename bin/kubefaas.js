#!/usr/bin/env node
// The `kubefaas` command. An installed package (and a built checkout) runs the compiled CLI in lib/;
// a fresh clone, before any `npm run build`, runs the TypeScript sources through tsx (a dependency),
// so `npx kubefaas` works right after `npm install`. This file is plain JavaScript and always there,
// so npm links the bin at install time whatever has been built.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'lib', 'src', 'cli', 'main.js');
const source = path.join(root, 'src', 'cli', 'main.ts');

function load() {
  if (fs.existsSync(built)) return require(built);
  if (fs.existsSync(source)) {
    require('tsx/cjs');
    return require(source);
  }
  process.stderr.write(`kubefaas: ${built} is missing; run \`npm run build\` in ${root}\n`);
  process.exit(1);
}

load()
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });

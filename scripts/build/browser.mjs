#!/usr/bin/env node
// Bundles src/browser/index.ts into one ES module, dist/browser/blip-itm.js, and copies the
// tfjs wasm binaries beside it (the bundle finds them relative to import.meta.url).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'dist', 'browser');
const shims = path.join(root, 'src', 'browser', 'shims');

/** Node built-ins that third-party code names: stand-ins that fail clearly (fs, path, os) or work (zlib, Buffer). */
const nodeShims = {
  name: 'node-shims',
  setup(build) {
    build.onResolve(
      { filter: /^(node:)?(fs|path|os|zlib|worker_threads|child_process|url|crypto|http|https|stream|events|util|readline)$/ },
      () => ({ path: path.join(shims, 'node-unavailable.ts') }),
    );
    // pngjs's own browser build carries its stream and zlib stand-ins.
    build.onResolve({ filter: /^pngjs$/ }, () => ({ path: path.join(root, 'node_modules', 'pngjs', 'browser.js') }));
  },
};

/**
 * Core modules allowed to import a Node built-in in the bundle (served by a shim), with the reason.
 * Empty: the core imports none; Node-only code lives in src/node and is never bundled.
 */
const ALLOWED_NODE_IMPORTS = new Map([
  // ['src/x.ts', 'why it may'],
]);

/** Fails the build when a module of ours in the bundle imports a Node built-in (served by a shim). */
function checkNodeImports(metafile) {
  const reached = [];
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (!file.startsWith('src/') || file.startsWith('src/browser/') || ALLOWED_NODE_IMPORTS.has(file)) continue;
    const names = input.imports
      .filter((i) => i.path.startsWith('src/browser/shims/') && !i.path.endsWith('buffer-global.ts'))
      .map((i) => i.original);
    if (names.length) reached.push(`${file} (${[...new Set(names)].join(', ')})`);
  }
  if (reached.length)
    throw new Error(
      `browser bundle: ${reached.length} core modules import a Node built-in (move the Node part to src/node):\n  ${reached.join('\n  ')}`,
    );
}

fs.mkdirSync(out, { recursive: true });
const entry = path.join(out, 'entry.mjs');
// The entry points tfjs-backend-wasm at the .wasm files beside the bundle before anything loads.
fs.writeFileSync(
  entry,
  [
    "import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';",
    "setWasmPaths(new URL('./', import.meta.url).href);",
    `export * from ${JSON.stringify(path.join(root, 'src', 'browser', 'index.ts'))};`,
    '',
  ].join('\n'),
);
try {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: path.join(out, 'blip-itm.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    inject: [path.join(shims, 'buffer-global.ts')],
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [nodeShims],
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'warning',
    logOverride: { 'import-is-undefined': 'silent' },
    metafile: true,
  });
  checkNodeImports(result.metafile);
} finally {
  fs.rmSync(entry, { force: true });
}
const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of fs.readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join(out, f));
const size = fs.statSync(path.join(out, 'blip-itm.js')).size;
console.log(
  `dist/browser/blip-itm.js: ${(size / 1e6).toFixed(2)} MB (+ ${fs.readdirSync(out).filter((n) => n.endsWith('.wasm')).length} wasm files)`,
);

// The inspector page, served as it is beside the bundle: with no inspector server behind it,
// its api.js runs the model in the page (serverless mode; see src/inspector/page/api-local.js).
const pageSrc = path.join(root, 'src', 'inspector', 'page');
const pageOut = path.join(out, 'inspector');
fs.rmSync(pageOut, { recursive: true, force: true });
fs.mkdirSync(pageOut, { recursive: true });
for (const f of fs.readdirSync(pageSrc)) fs.copyFileSync(path.join(pageSrc, f), path.join(pageOut, f));
// The static copy says so, and api.js then takes the in-page model without probing for a server.
const html = path.join(pageOut, 'index.html');
const marked = fs
  .readFileSync(html, 'utf8')
  .replace('<meta charset="utf-8" />', '<meta charset="utf-8" />\n    <meta name="blip-itm-inspector" content="serverless" />');
if (!marked.includes('content="serverless"')) throw new Error(`${html}: no <meta charset> to mark the page serverless after`);
fs.writeFileSync(html, marked);
console.log(`dist/browser/inspector/: the serverless inspector page (${fs.readdirSync(pageOut).length} files)`);

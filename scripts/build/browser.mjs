#!/usr/bin/env node
// Bundles src/browser/index.ts into one ES module, dist/browser/blip-itm.js, and copies the
// tfjs wasm binaries beside it: the bundle names each one as `new URL('./x.wasm', import.meta.url)`,
// the form Vite, webpack 5 and Rollup copy as an asset when they bundle it again. Also writes
// dist/browser/blip-itm-inline-wasm.js, the bundle with the wasm inlined as data: URLs (esbuild,
// which does not follow that form, and any other bundler: nothing to copy).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
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
 * Node-only code: the folders (and single files) of src/ that may import Node built-ins. The
 * browser entry must reach none of them; every other module under src/ must import no built-in.
 */
const NODE_ONLY = [
  'src/node/', // the Node platform: files, the hub's cache, Node backends
  'src/cli/', // the command line
  'src/hub/', // Hugging Face hub downloads into the on-disk cache
  'src/retrieval/', // the on-disk image index (LanceDB)
  'src/eval/', // evaluation over annotation files, its on-disk score cache
  'src/bench/', // `blip-itm bench`
  'src/filter/', // `blip-itm filter`: files, tars, Parquet, worker threads
  'src/serve/', // `blip-itm serve`: the HTTP service
  'src/inspector/server.ts', // the inspector's HTTP server
  'src/inspector/prepare-worker.ts', // the inspector server's image-preparing worker thread
  'src/inspector/static-server.ts', // `npm run demo`'s static file server
];
/** Browser code that names a package which shares its name with a Node built-in. */
const NOT_BUILTIN = new Map([['src/browser/shims/buffer-global.ts', 'buffer']]);

const isNodeOnly = (file) => NODE_ONLY.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Every .ts file under src/, as a root-relative path. */
function sourceFiles(dir = 'src') {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Fails the build when a module outside NODE_ONLY imports or requires a Node built-in (all modules, bundled or not). */
function checkAllModules() {
  const found = [];
  const spec = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  for (const file of sourceFiles()) {
    if (isNodeOnly(file)) continue;
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const names = [...text.matchAll(spec)].map((m) => m[1]).filter((n) => BUILTINS.has(n) && NOT_BUILTIN.get(file) !== n);
    if (names.length) found.push(`${file} (${[...new Set(names)].join(', ')})`);
  }
  if (found.length)
    throw new Error(
      `${found.length} modules outside the Node-only folders import a Node built-in (move the Node part to src/node):\n  ${found.join('\n  ')}`,
    );
}

/** Fails the build when the browser bundle reaches Node-only code or a Node built-in (served by a shim). */
function checkNodeImports(metafile) {
  const reached = [];
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (!file.startsWith('src/')) continue;
    if (isNodeOnly(file)) reached.push(`${file} (Node-only)`);
    if (file.startsWith('src/browser/')) continue;
    const names = input.imports
      .filter((i) => i.path.startsWith('src/browser/shims/') && !i.path.endsWith('buffer-global.ts'))
      .map((i) => i.original);
    if (names.length) reached.push(`${file} (${[...new Set(names)].join(', ')})`);
  }
  if (reached.length) throw new Error(`browser bundle: it reaches ${reached.length} modules it must not:\n  ${reached.join('\n  ')}`);
}

checkAllModules();
fs.mkdirSync(out, { recursive: true });
const entry = path.join(out, 'entry.mjs');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
// The entry points tfjs-backend-wasm at the .wasm files beside the bundle before anything loads.
fs.writeFileSync(
  entry,
  [
    `import { setWasmFiles } from ${JSON.stringify(path.join(root, 'src', 'browser', 'backend.ts'))};`,
    'setWasmFiles({',
    ...WASM_FILES.map((f) => `  '${f}': new URL('./${f}', import.meta.url).href,`),
    '});',
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
for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmDir, f), path.join(out, f));
// The same bundle with nothing to copy: the wasm as data: URLs, set after the bundle's own URLs.
const dataUrl = (f) => `data:application/wasm;base64,${fs.readFileSync(path.join(wasmDir, f)).toString('base64')}`;
fs.writeFileSync(
  path.join(out, 'blip-itm-inline-wasm.js'),
  [
    "// blip-itm with tfjs-backend-wasm's .wasm files inlined (data: URLs): for bundlers that do not copy",
    "// `new URL('./x.wasm', import.meta.url)` assets, such as esbuild. Generated by scripts/build/browser.mjs.",
    "import { setWasmFiles } from './blip-itm.js';",
    'setWasmFiles({',
    ...WASM_FILES.map((f) => `  '${f}': '${dataUrl(f)}',`),
    '});',
    "export * from './blip-itm.js';",
    '',
  ].join('\n'),
);
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

#!/usr/bin/env node
/**
 * `npm test` after the build: the whole suite on the wasm backend (as users run it), then the
 * model and parity test files again on the cpu backend, and on tensorflow when tfjs-node is
 * installed. Each run is a separate mocha process (a tfjs backend is chosen once per process);
 * mocha prints its own summary for each. Exits non-zero when any run fails.
 *
 *   node scripts/test/run.js [mocha args...]     e.g. --grep parity (passed to every run)
 *   BLIP_ITM_TEST_BACKENDS=cpu node scripts/test/run.js   only the named extra backends (comma list; "none" for none)
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const mocha = require.resolve('mocha/bin/mocha.js', { paths: [root] });
/** Test files that exercise the model path; new ones are picked up by name. */
const MODEL_FILES = /^(model|parity|probe|determinism|reference)[^/]*\.test\.js$/;

function installed(pkg) {
  try {
    require.resolve(pkg, { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

/** .mocharc.json's options (all but spec) as command-line flags, so a run can name its own files. */
function optionsFromConfig() {
  const config = JSON.parse(fs.readFileSync(path.join(root, '.mocharc.json'), 'utf8'));
  const args = [];
  for (const [key, value] of Object.entries(config)) {
    if (key === 'spec') continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === true) args.push(`--${key}`);
      else if (v === false) args.push(`--no-${key}`);
      else args.push(`--${key}`, String(v));
    }
  }
  return args;
}

function run(backend, files, extra) {
  const label = files ? `${backend}: ${files.length} model test files` : `${backend}: all test files`;
  console.log(`\n=== mocha on ${label} ===`);
  const args = files ? ['--no-config', ...optionsFromConfig(), ...extra, ...files] : [...extra];
  const res = spawnSync(process.execPath, [mocha, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, BLIP_ITM_BACKEND: backend },
  });
  return { label, ok: res.status === 0, status: res.status ?? res.signal };
}

function main() {
  const extra = process.argv.slice(2);
  const testDir = path.join(root, 'dist', 'test');
  const modelFiles = fs
    .readdirSync(testDir)
    .filter((f) => MODEL_FILES.test(f))
    .sort()
    .map((f) => path.join('dist', 'test', f));
  const wanted = process.env.BLIP_ITM_TEST_BACKENDS;
  const extraBackends =
    wanted !== undefined
      ? wanted
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s && s !== 'none')
      : ['cpu', ...(installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu') ? ['tensorflow'] : [])];

  const results = [run('wasm', undefined, extra)];
  if (modelFiles.length === 0) {
    console.error('no model test files matched in dist/test: is the build current?');
    results.push({ label: 'model test files', ok: false, status: 'none found' });
  } else {
    for (const backend of extraBackends) results.push(run(backend, modelFiles, extra));
  }

  console.log('\n=== summary ===');
  for (const r of results) console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.label}${r.ok ? '' : ` (exit ${r.status})`}`);
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

main();

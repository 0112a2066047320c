/**
 * Opt-in multi-threaded wasm backend for Node (tfjs-backend-wasm 4.22, threaded-SIMD build).
 *
 * tfjs disables threads under Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false when IS_NODE,
 * tensorflow/tfjs#3830). Forcing the flag alone fails because tfjs hands emscripten its pthread
 * worker script as a `blob:` URL and `worker_threads.Worker` accepts only paths / file: / data:
 * URLs (ERR_WORKER_PATH), and because it posts the main script to each worker as a Blob that the
 * worker cannot `importScripts` under Node. This module works around both without touching
 * node_modules:
 *
 *  1. It writes tfjs's own worker script (byte-for-byte what tfjs would put in the Blob) to a
 *     content-addressed file in the OS temp dir, with one line appended that makes the worker
 *     load the package's stock `wasm-out/tfjs-backend-wasm-threaded-simd.js` (the same
 *     emscripten glue tfjs bundles; it imports the same 506 wasm functions) instead of the Blob.
 *  2. It wraps `URL.createObjectURL` so that tfjs's worker Blob (recognised by type and size)
 *     maps to that file; every other call goes to the original.
 *  3. It re-registers the 'wasm' backend factory (same priority 2) so that (a) while the module
 *     is instantiated, `os.cpus()` reports at least 2 * count CPUs: the wasm caps its XNNPACK
 *     pool at emscripten_num_logical_cores() / 2 = os.cpus().length / 2, so on a 2-CPU box it
 *     would silently stay at 1 thread; and (b) once the backend is up, the pthread
 *     workers are `unref()`ed: emscripten `ref()`s a worker while its pthread runs, and XNNPACK's
 *     pool threads never end, so without this a Node process would never exit by itself.
 *
 * Call `enableWasmThreads(n)` before `tf.setBackend('wasm')` (`useBackend('wasm')` does, with every
 * core by default). Without the call nothing changes (single-threaded SIMD build, as tfjs does).
 * It relies on internals of tfjs-backend-wasm 4.22 (pinned in package.json); `useBackend` checks
 * the installed version first (checkWasmThreadsSupported) and otherwise runs one thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TFJS_INTERNALS_VERSION, backendStarted, internalsMismatch, wasmPoolWorkers } from '../tfjs-internals';

let installed = false;
let wasmBackendThreads = 1;

/** The tfjs-backend-wasm version whose internals (worker script, Blob, PThread) this module was written against. */
export const WASM_THREADS_TFJS_VERSION = TFJS_INTERNALS_VERSION;
/** The wasm's own cap on its XNNPACK pool. */
export const WASM_THREADS_MAX = 8;

/**
 * Null when the threaded build can be used here, else why not (one line): the installed
 * tfjs-backend-wasm is not the version this workaround was written for, or its files are missing.
 */
export function checkWasmThreadsSupported(): string | null {
  try {
    const pkgFile = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
    const { version } = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string };
    const mismatch = internalsMismatch('@tensorflow/tfjs-backend-wasm', version) ?? internalsMismatch();
    if (mismatch) return mismatch;
    const dir = path.join(path.dirname(pkgFile), 'wasm-out');
    for (const f of [
      'tfjs-backend-wasm-threaded-simd.js',
      'tfjs-backend-wasm-threaded-simd.worker.js',
      'tfjs-backend-wasm-threaded-simd.wasm',
    ]) {
      if (!fs.existsSync(path.join(dir, f))) return `${path.join(dir, f)} is missing`;
    }
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** Threads of the wasm backend's pool as started (1: the single-threaded build). */
export function wasmThreadsInUse(): number {
  return wasmBackendThreads;
}

/** Writes `text` to a content-addressed file in the temp dir (once) and returns its path. */
function materialise(text: string, ext: string): string {
  const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `tfjs-wasm-pthread-${hash}${ext}`);
  if (!fs.existsSync(file)) {
    const partial = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, text);
    fs.renameSync(partial, file); // atomic: concurrent processes never see a half-written file
  }
  return file;
}

/**
 * Makes the next `tf.setBackend('wasm')` use the threaded-SIMD build with `count` XNNPACK
 * threads (the main thread counts as one; the wasm caps it at 8). Must run before the wasm
 * backend is initialised.
 * `count` 1 keeps the default single-threaded build.
 */
export function enableWasmThreads(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new Error(`wasm thread count must be a positive integer, got ${count}`);
  const wasmBackend = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if (count > WASM_THREADS_MAX) throw new Error(`wasm thread count must be at most ${WASM_THREADS_MAX}, got ${count}`);
  if (backendStarted('wasm')) throw new Error('enableWasmThreads must be called before the wasm backend is initialised');
  if (count === 1) {
    wasmBackendThreads = 1;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return;
  }
  wasmBackend.setThreadsCount(count);
  wasmBackendThreads = count;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  if (installed) return;

  const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainScript = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // tfjs escapes newlines before putting the worker source in a Blob; do the same.
  const blobText = wasmWorkerContents.replace(/\n/g, '\\n');
  const blobSize = Buffer.byteLength(blobText);
  // Appended (not prepended, so the script's "use strict" stays the first statement): inside the
  // worker, the main script's Blob resolves to the stock glue file, which importScripts can read.
  const workerFile = materialise(
    `${blobText}\n;URL.createObjectURL=function(){return ${JSON.stringify(mainScript)}};URL.revokeObjectURL=function(){};\n`,
    '.cjs',
  );

  const createObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob): string =>
    obj instanceof Blob && obj.type === 'application/javascript' && obj.size === blobSize ? workerFile : createObjectURL(obj);

  const factory = tf.findBackendFactory('wasm');
  if (factory == null) throw new Error('the wasm backend is not registered');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      // The wasm caps the pool at emscripten_num_logical_cores() / 2, i.e. os.cpus().length / 2
      // (it assumes 2 hyperthreads per core), read once by a static constructor during
      // instantiation. Report at least 2 * count CPUs while the module is being created.
      const osModule = require('os') as typeof os; // the mutable module object the glue reads (not the TS namespace copy)
      const cpus = osModule.cpus;
      const wanted = 2 * wasmBackendThreads;
      osModule.cpus = () => {
        const real = cpus();
        return real.length >= wanted || real.length === 0 ? real : Array.from({ length: wanted }, (_, i) => real[i % real.length]);
      };
      let backend: tf.KernelBackend;
      try {
        backend = await factory();
      } finally {
        osModule.cpus = cpus;
      }
      for (const w of wasmPoolWorkers(backend)) w.unref(); // the pool must not keep the process alive
      return backend;
    },
    2, // tfjs-backend-wasm's own priority
  );
  installed = true;
}

/// <reference lib="dom" />
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
// Importing a backend package registers it: cpu and webgl (tfjs-core alone has none), webgpu.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
// Gradients and chained tensor methods (x.reshape(...)): the @tensorflow/tfjs umbrella would add them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { BackendInUse, BackendName, ComputeDType } from '../model/platform';
import { backendStarted, silenceCpuBanner } from '../tfjs-internals';

/** Backends a page can ask for; 'auto' takes the first of webgpu, webgl, wasm, cpu that initialises. */
export type BrowserBackendName = Exclude<BackendName, 'tensorflow'>;
export const BROWSER_BACKENDS: readonly BrowserBackendName[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];
/** Fastest first, as measured in headless Chromium (see notes): GPU, then wasm SIMD, then plain JS. */
const AUTO_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** What the page computes on: the model's `backend` (float16: webgl with half-float textures). */
export type BackendChoice = BackendInUse;

function webglHalfFloat(): boolean {
  return tf.env().getBool('WEBGL_FORCE_F16_TEXTURES');
}

/** The webgl backend, once created, keeps the precision it started with. */
function webglStarted(): boolean {
  return backendStarted('webgl');
}

async function tryBackend(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Selects (and initialises) the backend; returns what is in use. */
export async function useBrowserBackend(
  name: BrowserBackendName = 'auto',
  dtype: ComputeDType = 'float32',
  opts: { threads?: number } = {},
): Promise<BackendChoice> {
  if (!BROWSER_BACKENDS.includes(name)) throw new Error(`unknown backend "${name}" (choose ${BROWSER_BACKENDS.join(', ')})`);
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`unknown dtype "${String(dtype)}" (choose float32 or float16)`);
  if (dtype === 'float16') {
    if (name === 'auto') name = 'webgl';
    if (name !== 'webgl') {
      throw new Error(`dtype float16 needs the webgl backend: tfjs has no float16 storage on ${name} (use float32 there)`);
    }
  }
  if (name === 'webgl' || name === 'auto') {
    const wantHalf = dtype === 'float16';
    if (webglStarted() && webglHalfFloat() !== wantHalf) {
      throw new Error(
        `webgl already runs in ${webglHalfFloat() ? 'float16' : 'float32'} in this page; ` +
          `its precision is fixed when it starts (reload the page to use ${dtype})`,
      );
    }
    if (!webglStarted()) tf.env().set('WEBGL_FORCE_F16_TEXTURES', wantHalf);
  }
  if ((name === 'wasm' || name === 'auto') && !backendStarted('wasm')) {
    // tfjs would take half the cores (at most 4); a page that asked for isolation wants them all.
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    if (isolated) setThreadsCount(Math.max(1, opts.threads ?? (navigator.hardwareConcurrency || 1)));
  }
  const candidates = name === 'auto' ? AUTO_ORDER : [name];
  for (const candidate of candidates) {
    if (await tryBackend(candidate)) {
      await tf.ready();
      if (candidate === 'cpu') silenceCpuBanner();
      const choice: BackendChoice = { name: tf.getBackend(), dtype, threads: tf.getBackend() === 'wasm' ? wasmThreads() : 0 };
      if (choice.name === 'webgl' && dtype === 'float16' && tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) {
        throw new Error('webgl did not switch to half-float textures (WEBGL_RENDER_FLOAT32_ENABLED is still true)');
      }
      return choice;
    }
  }
  throw new Error(
    name === 'auto'
      ? 'no tfjs backend initialised (tried webgpu, webgl, wasm, cpu)'
      : `backend "${name}" failed to initialise in this browser`,
  );
}

/** tfjs-backend-wasm runs its threaded build by itself when the page is cross-origin isolated. */
function wasmThreads(): number {
  return getThreadsCount();
}

/** The backend tfjs runs on now, as BackendInUse. */
export function currentBrowserBackend(): BackendInUse {
  const name = tf.getBackend();
  return { name, dtype: name === 'webgl' && webglHalfFloat() ? 'float16' : 'float32', threads: name === 'wasm' ? wasmThreads() : 0 };
}

import * as tf from '@tensorflow/tfjs-core';
// Registers the 'cpu' backend (tfjs-core alone has none); wasm, webgpu and tfjs-node load on demand.
import '@tensorflow/tfjs-backend-cpu';
import './tfjs-extras';
import * as os from 'os';
import { backendStarted, silenceCpuBanner } from '../tfjs-internals';
import { WASM_THREADS_MAX, checkWasmThreadsSupported, enableWasmThreads, wasmThreadsInUse } from './wasm-threads';
import { registerWebGpu, webGpuAdapter } from './webgpu';

export type BackendName = 'auto' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendOptions {
  /**
   * wasm threads. Default: every core (os.availableParallelism(), at most 8, the wasm's own cap);
   * 1 runs the single-threaded build. Applies when wasm first starts in the process.
   */
  threads?: number;
  /** Where one-line notices go (a fallback taken); default stderr. */
  notice?: (line: string) => void;
}

/** What the process computes on, for `bench` and logs. */
export interface BackendInfo {
  backend: string;
  /** wasm: threads of its pool (1 = single-threaded build); other backends: 0 (their own pools). */
  threads: number;
  /** The GPU adapter for webgpu ("google swiftshader (SwiftShader driver 5.0.0)"), else "cpu". */
  device: string;
}

/** The default wasm thread count: every core this process may use, up to the wasm's cap. */
export function defaultThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(WASM_THREADS_MAX, cores));
}

/** Registers tfjs-node-gpu or tfjs-node if one is installed; returns which, or null. */
function tryNativeBackend(only?: '@tensorflow/tfjs-node-gpu'): string | null {
  for (const pkg of only ? [only] : ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg); // registers the 'tensorflow' backend as a side effect
      return pkg;
    } catch {
      // not installed (see docs/native-backend.md: bin/install-tfjs-node-offline.sh)
    }
  }
  return null;
}

let nativePackage: string | null = null;

async function startWasm(threads: number, notice: (line: string) => void): Promise<void> {
  require('@tensorflow/tfjs-backend-wasm');
  const started = backendStarted('wasm');
  if (!started && threads === 1) enableWasmThreads(1);
  if (!started && threads > 1) {
    const unsupported = checkWasmThreadsSupported();
    if (unsupported) {
      notice(`blip-itm: note: wasm runs on 1 thread: ${unsupported}`);
    } else {
      try {
        enableWasmThreads(threads);
        if (await tf.setBackend('wasm')) return;
        notice('blip-itm: note: the multi-threaded wasm build did not start; running on 1 thread');
      } catch (e) {
        notice(`blip-itm: note: the multi-threaded wasm build did not start (${(e as Error).message.split('\n')[0]}); running on 1 thread`);
      }
    }
    enableWasmThreads(1);
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
}

/**
 * Selects the tfjs backend and returns the one in use.
 *
 * 'auto' takes, in order: tfjs-node-gpu when installed; WebGPU on a hardware adapter (never a
 * software one such as SwiftShader or lavapipe); tfjs-node when installed; else wasm on every
 * core. 'webgpu' asked for by name accepts any adapter, software ones included.
 */
export async function useBackend(name: BackendName = 'auto', opts: BackendOptions = {}): Promise<string> {
  if (!BACKENDS.includes(name)) throw new Error(`unknown backend "${name}" (choose ${BACKENDS.join(', ')})`);
  const notice = opts.notice ?? ((line: string) => process.stderr.write(line + '\n'));
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`wasm thread count must be a positive integer, got ${threads}`);

  const asked = name;
  if (name === 'auto') {
    nativePackage = tryNativeBackend('@tensorflow/tfjs-node-gpu');
    if (nativePackage && (await tf.setBackend('tensorflow'))) return 'tensorflow';
    if (typeof (await registerWebGpu(false)) !== 'string' && (await tf.setBackend('webgpu'))) return 'webgpu';
    name = 'tensorflow';
  }
  if (name === 'tensorflow') {
    nativePackage = tryNativeBackend();
    if (nativePackage && (await tf.setBackend('tensorflow'))) return 'tensorflow';
    if (asked === 'tensorflow') {
      throw new Error(
        'backend "tensorflow" needs @tensorflow/tfjs-node installed: run `npx blip-itm install-native` (see docs/native-backend.md)',
      );
    }
    name = 'wasm';
  }
  if (name === 'webgpu') {
    const adapter = await registerWebGpu(true);
    if (typeof adapter === 'string') throw new Error(`backend "webgpu": ${adapter}`);
    if (!(await tf.setBackend('webgpu'))) throw new Error(`backend "webgpu" failed to initialise on ${adapter.name}`);
    return 'webgpu';
  }
  if (name === 'wasm') {
    await startWasm(threads, notice);
    return 'wasm';
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" failed to initialise`);
  await tf.ready();
  // The cpu backend prints a banner recommending tfjs-node on first use; the choice was deliberate.
  if (name === 'cpu') silenceCpuBanner();
  return tf.getBackend();
}

/** The backend in use, its thread count and device. */
export function backendInfo(): BackendInfo {
  const backend = tf.getBackend();
  if (backend === 'wasm') return { backend, threads: wasmThreadsInUse(), device: 'cpu' };
  if (backend === 'webgpu') return { backend, threads: 0, device: webGpuAdapter()?.name ?? 'unknown adapter' };
  if (backend === 'tensorflow') {
    return { backend, threads: 0, device: nativePackage === '@tensorflow/tfjs-node-gpu' ? 'tfjs-node-gpu (CUDA when visible)' : 'cpu' };
  }
  return { backend, threads: 1, device: 'cpu' };
}

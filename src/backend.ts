import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads } from './wasm-threads';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** Registers tfjs-node-gpu or tfjs-node if one is installed; returns whether one was. */
function tryNativeBackend(): boolean {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1'; // hide TensorFlow's start-up info lines
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg); // registers the 'tensorflow' backend as a side effect
      return true;
    } catch {
      // not installed (its install needs libtensorflow, which is optional)
    }
  }
  return false;
}

/**
 * Selects the tfjs backend: 'auto' takes native TensorFlow (tfjs-node-gpu, then tfjs-node)
 * when installed, else wasm. Returns the backend actually in use. `threads` > 1 runs wasm's
 * multi-threaded build (opt-in: see wasm-threads.ts); it applies when wasm first starts.
 */
export async function useBackend(name: BackendName = 'auto', opts: { threads?: number } = {}): Promise<string> {
  if (!BACKENDS.includes(name)) throw new Error(`unknown backend "${name}" (choose ${BACKENDS.join(', ')})`);
  if (name === 'auto' || name === 'tensorflow') {
    if (tryNativeBackend() && (await tf.setBackend('tensorflow'))) return 'tensorflow';
    if (name === 'tensorflow') {
      throw new Error('backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed');
    }
    name = 'wasm';
  }
  if (name === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
    // Threads take effect when the wasm backend first starts in this process.
    const started = 'wasm' in (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
    if (opts.threads !== undefined && opts.threads > 1 && !started) enableWasmThreads(opts.threads);
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" failed to initialise`);
  await tf.ready();
  // The cpu backend prints a banner recommending tfjs-node on first use; the choice was deliberate.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return tf.getBackend();
}

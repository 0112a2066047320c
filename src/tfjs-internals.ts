import * as tf from '@tensorflow/tfjs-core';

/**
 * Every use of tfjs internals (not part of its public API) in one place, so that upgrading tfjs
 * is an audit of this file: the engine's backend registry, the cpu backend's first-use banner,
 * tfjs-backend-wasm's heap and Emscripten thread pool, tfjs-node's binding and tensor map, and
 * webgpu's uploadToGPU. Each was read in the sources of the version below; with any other
 * version the fast paths that need them step aside (the plain tfjs path runs instead) and the
 * wasm thread workaround declines.
 */
export const TFJS_INTERNALS_VERSION = '4.22.0';

/** Null when `pkg` at `version` is the tfjs these internals were written against, else why not (one line). */
export function internalsMismatch(pkg = '@tensorflow/tfjs-core', version: string = tf.version_core): string | null {
  return version === TFJS_INTERNALS_VERSION
    ? null
    : `${pkg} is ${version}; blip-itm's use of tfjs internals was written for ${TFJS_INTERNALS_VERSION}`;
}

const internalsHold = internalsMismatch() === null;

/** Whether the backend `name` has been created in this process (the engine's registry; tf.findBackend would create it). */
export function backendStarted(name: string): boolean {
  return (tf.engine() as unknown as { registry: Record<string, unknown> }).registry[name] !== undefined;
}

/** The cpu backend prints a banner recommending tfjs-node on first use; call when cpu was chosen on purpose. */
export function silenceCpuBanner(): void {
  if (tf.getBackend() === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

/** What the fast paths use of tfjs-backend-wasm's BackendWasm: allocate an output, view a tensor's bytes in the heap. */
export interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** The wasm backend's heap when tfjs runs on wasm and its internals are the known ones, else null. */
export function wasmHeap(): WasmHeap | null {
  return internalsHold && tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmHeap) : null;
}

/** An Emscripten worker of the wasm thread pool (a Node worker_threads Worker). */
export interface PoolWorker {
  unref(): void;
}

/** The workers of a threaded wasm backend's pool (Emscripten's PThread), empty when it has none. */
export function wasmPoolWorkers(backend: tf.KernelBackend): PoolWorker[] {
  const pthread = (backend as unknown as { wasm?: { PThread?: { runningWorkers: PoolWorker[]; unusedWorkers: PoolWorker[] } } }).wasm
    ?.PThread;
  return [...(pthread?.runningWorkers ?? []), ...(pthread?.unusedWorkers ?? [])];
}

/** tfjs-node's binding and tensor map, for reading back what TensorFlow holds for a tensor. */
interface TensorflowBackend {
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  binding: { tensorDataSync(id: number): Float32Array };
  tensorMap: { get(dataId: object): { id: number } };
}

/** tfjs-node's backend internals when tfjs runs on tensorflow and they are the known ones, else null. */
function tensorflowBackend(): TensorflowBackend | null {
  if (!internalsHold || tf.getBackend() !== 'tensorflow') return null;
  const backend = tf.backend() as unknown as Partial<TensorflowBackend>;
  return typeof backend.getInputTensorIds === 'function' && backend.binding && backend.tensorMap ? (backend as TensorflowBackend) : null;
}

/** Whether TensorFlow sees the value written through `probe` (one float): it adopted the array's memory instead of copying it. */
export function tensorflowSharesMemory(probe: Float32Array): boolean {
  const backend = tensorflowBackend();
  if (!backend) return false;
  const t = tf.tensor(probe, [1]);
  try {
    backend.getInputTensorIds([t]); // creates the TensorFlow tensor from the array
    const before = probe[0];
    probe[0] = before + 1;
    const seen = backend.binding.tensorDataSync(backend.tensorMap.get(t.dataId).id)[0];
    probe[0] = before;
    return seen === before + 1;
  } finally {
    t.dispose();
  }
}

/** Uploads `t` (just written from a host array) into the backend's own memory now; false if this backend cannot. */
export function uploadNow(t: tf.Tensor): boolean {
  if (!internalsHold) return false;
  const name = tf.getBackend();
  if (name === 'tensorflow') {
    const backend = tensorflowBackend();
    if (!backend) return false;
    backend.getInputTensorIds([t]);
    return true;
  }
  if (name === 'webgpu') {
    const backend = tf.backend() as unknown as { uploadToGPU?(dataId: object): void };
    if (typeof backend.uploadToGPU !== 'function') return false;
    backend.uploadToGPU(t.dataId);
    return true;
  }
  return false;
}

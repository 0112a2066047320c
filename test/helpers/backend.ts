import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BackendName, useBackend } from '../../src/node/backend';

/** The backend this mocha run was asked for: BLIP_ITM_BACKEND, default wasm (scripts/test/run.js sets it per run). */
export function requestedBackend(): Exclude<BackendName, 'auto'> {
  const name = process.env.BLIP_ITM_BACKEND ?? 'wasm';
  // webgpu needs a Vulkan driver (SwiftShader here: VK_ICD_FILENAMES, LD_LIBRARY_PATH; see README).
  if (name !== 'wasm' && name !== 'cpu' && name !== 'tensorflow' && name !== 'webgpu')
    throw new Error(`BLIP_ITM_BACKEND=${name}: choose wasm, cpu, tensorflow or webgpu`);
  return name;
}

/** Selects the requested backend and fails unless tfjs really runs on it (no silent fallback). */
export async function selectRequestedBackend(): Promise<void> {
  const wanted = requestedBackend();
  const got = await useBackend(wanted);
  if (got !== wanted || tf.getBackend() !== wanted) throw new Error(`asked for backend ${wanted}, tfjs runs on ${tf.getBackend()}`);
}

/** For a test that claims a backend: asserts the computation it just did ran there. */
export function expectBackend(name: string = requestedBackend()): void {
  expect(tf.getBackend(), 'tfjs backend in use').to.equal(name);
}

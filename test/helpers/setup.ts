import * as tf from '@tensorflow/tfjs-core';
import { requestedBackend, selectRequestedBackend } from './backend';
import { removeTempDirs } from './tmp';

/**
 * Root hooks. Every test starts on the backend named by BLIP_ITM_BACKEND (default wasm): a test
 * whose code switched backends (say a load with backend 'auto') does not carry the next one off
 * it. Temp folders made with tempDir() go when the run ends.
 */
export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await selectRequestedBackend();
  },
  async beforeEach(): Promise<void> {
    if (tf.getBackend() !== requestedBackend()) await selectRequestedBackend();
  },
  afterAll(): void {
    removeTempDirs();
  },
};

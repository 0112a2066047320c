import * as tf from '@tensorflow/tfjs-core';
import { usePlatform } from '../../src/model/platform';
import { nodePlatform } from '../../src/node/platform';
import { requestedBackend, selectRequestedBackend } from './backend';
import { removeTempDirs } from './tmp';

/**
 * Root hooks. Every test starts on the backend named by BLIP_ITM_BACKEND (default wasm): a test
 * whose code switched backends (say a load with backend 'auto') does not carry the next one off
 * it. Temp folders made with tempDir() go when the run ends.
 */
export const mochaHooks = {
  async beforeAll(): Promise<void> {
    usePlatform(nodePlatform); // what the Node entry (src/index.ts) does; tests import modules directly
    await selectRequestedBackend();
  },
  async beforeEach(): Promise<void> {
    if (tf.getBackend() !== requestedBackend()) await selectRequestedBackend();
  },
  afterAll(): void {
    removeTempDirs();
  },
};

import { BackendName, useBackend } from '../../src/backend';

/** Root hook: every test file runs on the backend named by BLIP_ITM_BACKEND (default wasm, as CI). */
export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await useBackend((process.env.BLIP_ITM_BACKEND ?? 'wasm') as BackendName);
  },
};

import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { expectBackend, requestedBackend } from './helpers/backend';

/** Named model-* so scripts/test/run.js runs it on every backend: each run proves which backend it was. */
describe(`test run backend (BLIP_ITM_BACKEND=${process.env.BLIP_ITM_BACKEND ?? '(unset: wasm)'})`, () => {
  it('tfjs runs on the requested backend', async () => {
    expectBackend(requestedBackend());
    const product = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])));
    const y = await product.data(); // async: webgpu in Node cannot read synchronously
    product.dispose();
    expect(Array.from(y)).to.deep.equal([3, 3, 3, 3]);
    expectBackend();
  });

  it('a test that switched backends does not carry the next one off the requested backend', async () => {
    const other = requestedBackend() === 'cpu' ? 'wasm' : 'cpu';
    if (other === 'wasm') await import('@tensorflow/tfjs-backend-wasm'); // registers the backend
    await tf.setBackend(other);
    expectBackend(other);
  });

  it('(the root beforeEach put it back)', () => expectBackend());
});

// A consumer's page, bundled by esbuild or Vite in test/bundlers.test.ts: scores the tiny
// fixture on the wasm backend. The build swaps the import for 'blip-itm/browser/inline-wasm'.
import { BlipItm } from 'blip-itm/browser';

window.score = async (modelUrl, imageUrl, texts) => {
  const model = await BlipItm.load(modelUrl, { backend: 'wasm' });
  try {
    const image = await (await fetch(imageUrl)).blob();
    return (await model.match([image], texts)).probs[0];
  } finally {
    model.dispose();
  }
};
window.ready = true;

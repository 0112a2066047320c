// A consumer's CommonJS module (require): type-checked like esm.mts.
import blip = require('blip-itm');

export async function score(dir: string, image: string): Promise<number> {
  const model = await blip.BlipItm.load(dir);
  const { probs } = await model.match([image], ['a dog']);
  model.dispose();
  return probs[0][0];
}

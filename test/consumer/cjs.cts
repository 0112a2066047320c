// A consumer's CommonJS module (require): type-checked like esm.mts.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS consumer's require is what is checked
import blip = require('blip-itm');

export async function score(dir: string, image: string): Promise<number> {
  const model = await blip.BlipItm.load(dir);
  const { probs } = await model.match([image], ['a dog']);
  model.dispose();
  return probs[0][0];
}

// A consumer's browser module (lib dom): type-checked like esm.mts, through the package's browser entry.
import * as browser from 'blip-itm/browser';

export async function scoreBrowser(url: string, image: HTMLImageElement): Promise<number[][]> {
  const model = await browser.BlipItm.load(url, { backend: 'wasm' });
  const result = await model.match([image], ['a cat']);
  model.dispose();
  return result.probs;
}

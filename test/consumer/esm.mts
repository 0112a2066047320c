// A consumer's ES module: type-checked against the packed package by test/consumer-types.test.ts
// (tsc --strict, skipLibCheck false; module nodenext and moduleResolution bundler).
import { BlipItm, ImageEmbedding, type MatchResult } from 'blip-itm';
// The Node entry by name: under moduleResolution bundler, 'blip-itm' is the browser entry.
import { backendInfo, useBackend, type BackendName } from 'blip-itm/node';

export async function scoreNode(dir: string, image: string, texts: string[]): Promise<number[][]> {
  const backend: BackendName = 'auto';
  await useBackend(backend);
  const model = await BlipItm.load(dir);
  const result: MatchResult = await model.match([image], texts);
  const embeddings: ImageEmbedding[] = await model.encodeImages([image]);
  embeddings.forEach((e) => e.dispose());
  console.log(backendInfo().backend, await model.similarity([image], texts));
  model.dispose();
  return result.probs;
}

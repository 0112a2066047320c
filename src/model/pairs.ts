import { ImageLike } from './core';

/** Scores of one image-text pair: what match() and similarity() give for it. */
export interface PairScore {
  /** ITM match probability, softmax(logits)[1]. */
  itm: number;
  /** ITM logits [no match, match]. */
  logits: [number, number];
  /** ITC cosine similarity. */
  itc: number;
}

/** Called after each image's texts are scored: pairs (or image x text cells) done of total. */
export type ScoreProgress = (done: number, total: number) => void;

/**
 * The pairs (images[i], texts[i]) grouped by image, so that each distinct image is encoded once:
 * the same path string, the same bytes object, the same RawImage or ImageEmbedding object.
 * Groups and the pair indices inside them keep input order.
 */
export function groupPairs(images: ImageLike[], texts: string[], call: string): { image: ImageLike; pairs: number[] }[] {
  if (images.length !== texts.length) {
    throw new Error(`${call}: ${images.length} images but ${texts.length} texts; pairs need one text per image`);
  }
  const groups = new Map<unknown, { image: ImageLike; pairs: number[] }>();
  images.forEach((image, i) => {
    const group = groups.get(image);
    if (group) group.pairs.push(i);
    else groups.set(image, { image, pairs: [i] });
  });
  return [...groups.values()];
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

import * as path from 'path';
import { RawTensor } from '../../src/weights/raw-tensor';
import { readAllSafetensors } from '../../src/weights/safetensors';

/** Paths inside test/fixtures (tests run from dist/test). */
export function fixture(...parts: string[]): string {
  return path.resolve(__dirname, '../../../test/fixtures', ...parts);
}

export const TINY = fixture('blip-itm-tiny');
export const IMAGES = ['chelsea.png', 'rocket.jpg', 'horse.png'].map((f) => fixture('images', f));
export const TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'Café au lait — naïve résumé 東京 🚀'];

const cache = new Map<string, Map<string, RawTensor>>();
export function reference(name: string): Map<string, RawTensor> {
  let t = cache.get(name);
  if (!t) { t = readAllSafetensors(fixture('reference', name)).tensors; cache.set(name, t); }
  return t;
}

/** Nested number arrays from a raw 2-D int tensor. */
export function rows(t: RawTensor): number[][] {
  const [n, l] = t.shape;
  return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * l, (i + 1) * l)));
}

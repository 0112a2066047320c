import * as fs from 'fs';
import * as path from 'path';
import { RawTensor } from '../../src/weights/raw-tensor';
import { readAllSafetensors } from '../../src/node/safetensors';

/** Paths inside test/fixtures (tests run from dist/test). */
export function fixture(...parts: string[]): string {
  return path.resolve(__dirname, '../../../test/fixtures', ...parts);
}

export const TINY = fixture('blip-itm-tiny');
export const IMAGES = ['chelsea.png', 'rocket.jpg', 'horse.png'].map((f) => fixture('images', f));
export const TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'Café au lait — naïve résumé 東京 🚀'];

/** The library versions the committed reference files were generated with (scripts/reference/requirements.txt). */
export const REFERENCE_VERSIONS = { transformers: '5.17.0', torch: '2.13.0+cpu' } as const;

export interface ReferenceStamp {
  generator: string;
  transformers: string;
  torch: string;
}

/**
 * Checks the stamp scripts/reference writes into every file it makes: which generator, and the
 * pinned transformers and torch versions. A reference made by other versions fails here, by
 * name, instead of as a puzzling parity difference.
 */
export function checkStamp(metadata: Record<string, string> | undefined, file: string): ReferenceStamp {
  const { generator, transformers, torch } = metadata ?? {};
  const where = path.relative(fixture(), file);
  if (!generator?.startsWith('scripts/reference/')) throw new Error(`${where}: no generator stamp (regenerate with scripts/reference/)`);
  for (const [lib, want] of Object.entries(REFERENCE_VERSIONS)) {
    const got = metadata?.[lib];
    if (got !== want) throw new Error(`${where}: made with ${lib} ${got ?? '(unstamped)'}, the tests expect ${want}`);
  }
  return { generator, transformers: transformers!, torch: torch! };
}

/** The stamp of a safetensors file (reference data or a generated checkpoint). */
export function stampOf(file: string): ReferenceStamp {
  return checkStamp(readAllSafetensors(file).metadata, file);
}

const cache = new Map<string, Map<string, RawTensor>>();
/** Tensors of test/fixtures/reference/NAME, after checking its stamp. */
export function reference(name: string): Map<string, RawTensor> {
  let t = cache.get(name);
  if (!t) {
    const file = fixture('reference', name);
    const { tensors, metadata } = readAllSafetensors(file);
    checkStamp(metadata, file);
    t = tensors;
    cache.set(name, t);
  }
  return t;
}

/** Records of a JSONL reference file, after checking the stamp on its first line. */
export function referenceLines<T>(file: string): T[] {
  const [first, ...rest] = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  checkStamp((JSON.parse(first ?? '{}') as { __metadata__?: Record<string, string> }).__metadata__, file);
  return rest.map((l) => JSON.parse(l) as T);
}

/** Nested number arrays from a raw 2-D int tensor. */
export function rows(t: RawTensor): number[][] {
  const [n, l] = t.shape;
  return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * l, (i + 1) * l)));
}

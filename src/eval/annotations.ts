import * as fs from 'fs';
import * as path from 'path';

/**
 * BLIP's retrieval test sets (Karpathy splits: coco_karpathy_test.json, flickr30k_test.json):
 * a list of `{"image": "relative/path.jpg", "caption": ["…", …]}`, read as BLIP's
 * coco_karpathy_retrieval_eval does: texts numbered image by image, caption by caption, each
 * through pre_caption(max_words = 30).
 */
export interface EvalSet {
  /** Absolute image paths, in annotation order. */
  images: string[];
  /** Preprocessed captions, in order. */
  texts: string[];
  /** For each text, its image. */
  txt2img: number[];
  /** For each image, its texts. */
  img2txt: number[][];
}

export const MAX_WORDS = 30;

/** BLIP's pre_caption: lower case, `.!"()*#:;~` to spaces, runs of whitespace to one space, trimmed, at most `maxWords` words. */
export function preCaption(caption: string, maxWords = MAX_WORDS): string {
  let c = caption.toLowerCase().replace(/([.!"()*#:;~])/g, ' ');
  c = c.replace(/\s{2,}/g, ' ');
  c = c.replace(/\n+$/, '');
  c = c.replace(/^ +| +$/g, '');
  const words = c.split(' ');
  return words.length > maxWords ? words.slice(0, maxWords).join(' ') : c;
}

export function loadEvalSet(annotations: string, imageRoot: string): EvalSet {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(annotations, 'utf8'));
  } catch (e) {
    throw new Error(`${annotations}: cannot read the annotations (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      cause: e,
    });
  }
  if (!Array.isArray(raw) || raw.length === 0)
    throw new Error(`${annotations}: expected a non-empty list of {"image", "caption"} (BLIP's Karpathy test format)`);
  const set: EvalSet = { images: [], texts: [], txt2img: [], img2txt: [] };
  raw.forEach((item: { image?: unknown; caption?: unknown }, i) => {
    const captions = typeof item?.caption === 'string' ? [item.caption] : item?.caption;
    if (typeof item?.image !== 'string' || !Array.isArray(captions) || !captions.every((c) => typeof c === 'string')) {
      throw new Error(`${annotations}: entry ${i} is not {"image": "path", "caption": ["…", …]}`);
    }
    const image = path.resolve(imageRoot, item.image);
    if (item.image === '' || fs.statSync(image, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(`${annotations}: entry ${i}: "image": ${JSON.stringify(item.image)} is a folder, not an image file`);
    }
    set.images.push(image);
    set.img2txt.push([]);
    for (const c of captions as string[]) {
      set.img2txt[i].push(set.texts.length);
      set.txt2img.push(i);
      set.texts.push(preCaption(c));
    }
  });
  if (set.texts.length === 0) {
    throw new Error(`${annotations}: no captions: every entry's "caption" list is empty (each test image needs its captions)`);
  }
  return set;
}

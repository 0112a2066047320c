import * as fs from 'fs';
import { BlipItm } from '../model/blip-itm';
import { Dataset, resolveUri } from '../retrieval/dataset';
import { ImageIndex, IndexEntry, buildIndex } from '../retrieval';
import { BuildProgress, BuildReport } from '../retrieval/indexer';
import { EvalSet } from './annotations';
import { OUTSIDE, Recalls, recalls, shortlist } from './protocol';
import { ScoreCache } from './score-cache';

export interface EvalOptions {
  /** Shortlist size each way (BLIP: 256 on COCO, 128 on Flickr30k); capped at the candidates. */
  kTest?: number;
  /** Where the image features are stored (a LanceDB index, reused and resumed across runs). */
  index: string;
  /** Texts per ITM batch (default 32). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Encoding images (stage 'images'), then ITM re-scoring image by image (stage 'itm'). */
  onProgress?: (stage: 'images' | 'itm', p: BuildProgress) => void;
  onWarning?: (message: string) => void;
}

export interface EvalResult {
  recalls: Recalls;
  /** ITC cosine, images × texts. */
  sims: number[][];
  /** Image → text scores: ITM match logit + ITC inside each image's shortlist, -100 elsewhere. */
  i2t: number[][];
  /** Text → image scores, texts × images. */
  t2i: number[][];
  kTest: number;
  build: BuildReport;
  /** Images matched with the ITM head in this run (the others' scores were saved by an earlier run). */
  itmImages: number;
}

/** BLIP's tokenisation for retrieval evaluation: max_length 35, [ENC] at position 0 of the ITM input. */
export const EVAL_TEXT = { maxLength: 35, encToken: true } as const;

/**
 * Building the image index keeps exactly the images it is given, so an index holding others (a
 * user's search index passed as --index) would lose them: refuse it instead.
 */
async function refuseForeignRows(where: string, images: readonly string[]): Promise<void> {
  const dataset = await Dataset.open(resolveUri(where));
  if (!dataset) return;
  try {
    const wanted = new Set(images);
    const foreign = [...new Set((await dataset.scanEntries()).map((e) => e.path))].filter((p) => !wanted.has(p));
    if (foreign.length) {
      throw new Error(
        `${dataset.uri}: the index holds ${foreign.length} image(s) that are not in the test set (${foreign[0]}${foreign.length > 1 ? ', …' : ''}); ` +
          'eval keeps only the test set in its index and would remove them: give --index a folder of its own, or leave it out',
      );
    }
  } finally {
    dataset.close();
  }
}

/**
 * BLIP's retrieval evaluation (train_retrieval.py `evaluation` + `itm_eval`). Image features come
 * from an image index built (or resumed) at `opts.index`, so images are encoded once. The ITM
 * score of a pair does not depend on which direction shortlisted it, so each image's states are
 * read once and matched against the union of the texts it shortlisted and the texts that
 * shortlisted it.
 */
export async function evaluate(model: BlipItm, set: EvalSet, opts: EvalOptions): Promise<EvalResult> {
  const kTest = opts.kTest ?? 256;
  if (!Number.isInteger(kTest) || kTest < 1) throw new Error(`k_test must be a whole number ≥ 1, got ${kTest}`);
  if (set.texts.length === 0) throw new Error('evaluate: the test set has no captions (every caption list is empty)');
  for (const image of new Set(set.images)) {
    if (fs.statSync(image, { throwIfNoEntry: false })?.isDirectory())
      throw new Error(`${image}: a folder, not an image file (each test-set entry names one image)`);
  }
  await refuseForeignRows(opts.index, set.images);
  const build = await buildIndex(model, opts.index, [...new Set(set.images)], {
    signal: opts.signal,
    onProgress: (p) => opts.onProgress?.('images', p),
    onWarning: opts.onWarning,
  });
  if (build.skipped.length)
    throw new Error(`${build.skipped[0].path}: ${build.skipped[0].reason} (every image of the test set must be readable)`);
  const index = await ImageIndex.open(opts.index);
  try {
    index.checkModel(model);
    const byPath = new Map((await index.entries()).map((e) => [e.path, e]));
    const entries = set.images.map((p) => {
      const e = byPath.get(p);
      if (!e) throw new Error(`${p}: not in the index ${index.uri}`);
      return e;
    });
    const vectors = await index.vectors();
    const textEmbeds = await model.encodeTexts(set.texts, EVAL_TEXT);
    const sims = entries.map((e) => {
      const v = vectors.get(e.path) as Float32Array;
      return textEmbeds.map((t) => dotF32(v, t));
    });
    const nImg = set.images.length;
    const nTxt = set.texts.length;
    const i2tList = sims.map((row) => shortlist(row, kTest));
    const t2iList = set.texts.map((_, t) =>
      shortlist(
        sims.map((row) => row[t]),
        kTest,
      ),
    );
    const pairs: Set<number>[] = sims.map((_, i) => new Set(i2tList[i]));
    t2iList.forEach((imgs, t) => imgs.forEach((i) => pairs[i].add(t)));

    const i2t = sims.map(() => new Array<number>(nTxt).fill(OUTSIDE));
    const t2i = set.texts.map(() => new Array<number>(nImg).fill(OUTSIDE));
    const inI2t = i2tList.map((l) => new Set(l));
    const inT2i = t2iList.map((l) => new Set(l));
    const cache = await ScoreCache.open(opts.index, index.fingerprint);
    let itmImages = 0;
    let lastSave = Date.now();
    try {
      for (let i = 0; i < nImg; i++) {
        if (opts.signal?.aborted) throw new Error('interrupted while re-scoring (the scores so far are saved; run again to resume)');
        const texts = [...pairs[i]].sort((a, b) => a - b);
        const logits = await itmLogits(
          model,
          index,
          cache,
          entries[i],
          texts.map((t) => set.texts[t]),
          opts.batchSize,
        );
        if (logits.computed) itmImages++;
        texts.forEach((t, j) => {
          const score = logits.values[j] + sims[i][t];
          if (inI2t[i].has(t)) i2t[i][t] = score;
          if (inT2i[t].has(i)) t2i[t][i] = score;
        });
        if (cache.unsaved >= 64 || Date.now() - lastSave > 30_000) {
          await cache.flush();
          lastSave = Date.now();
        }
        opts.onProgress?.('itm', { done: i + 1, total: nImg, file: set.images[i], encoded: itmImages });
      }
    } finally {
      await cache.flush();
      cache.close();
    }
    return { recalls: recalls(i2t, t2i, set.txt2img, set.img2txt), sims, i2t, t2i, kTest, build, itmImages };
  } finally {
    index.close();
  }
}

/** ITM match logits of one image with `texts`: saved ones reused, the rest computed from its stored states. */
async function itmLogits(model: BlipItm, index: ImageIndex, cache: ScoreCache, entry: IndexEntry, texts: string[], batchSize?: number) {
  const saved = texts.map((t) => cache.get(entry.sha256, t));
  if (saved.every((v) => v !== undefined)) return { values: saved as number[], computed: false };
  const [row] = await index.rows([entry]);
  const embedding = await model.embeddingFromStates(row.states, row.vector);
  try {
    const m = await model.match([embedding], texts, { ...EVAL_TEXT, batchSize });
    const values = m.logits[0].map((l) => l[1]);
    cache.put(entry.sha256, texts, values);
    return { values, computed: true };
  } finally {
    embedding.dispose();
  }
}

/** The ITC similarity as BLIP computes it: a float32 dot product. */
function dotF32(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return Math.fround(s);
}

/**
 * The scoring half of BLIP's retrieval evaluation (train_retrieval.py `evaluation` and
 * `itm_eval`), independent of the model: shortlists from the ITC similarity matrix, the score
 * matrices, and the recalls.
 */

export interface Recalls {
  txt_r1: number;
  txt_r5: number;
  txt_r10: number;
  txt_r_mean: number;
  img_r1: number;
  img_r5: number;
  img_r10: number;
  img_r_mean: number;
  r_mean: number;
}

/** The score of everything outside a shortlist, as BLIP fills its matrices. */
export const OUTSIDE = -100;

/**
 * Indices of `scores` ordered best first: descending score, ties by ascending index (numpy's
 * `argsort(-s, kind="stable")`). BLIP's own `argsort(s)[::-1]` leaves ties to the sort algorithm;
 * ties happen only among the -100 fill (k_test < 10) or exactly equal scores.
 */
export function rankOrder(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  return idx.sort((a, b) => scores[b] - scores[a] || a - b);
}

/** The `k` best indices by similarity, best first (torch.topk; ties by ascending index). */
export function shortlist(sims: ArrayLike<number>, k: number): number[] {
  return rankOrder(sims).slice(0, Math.min(k, sims.length));
}

function percentAtMost(ranks: number[], k: number): number {
  return (100 * ranks.filter((r) => r < k).length) / ranks.length;
}

/** itm_eval: TR@K (an image is a hit when any of its captions ranks within K), IR@K, their means. */
export function recalls(i2t: number[][], t2i: number[][], txt2img: number[], img2txt: number[][]): Recalls {
  const tr = i2t.map((scores, i) => {
    const order = rankOrder(scores);
    const pos = new Map(order.map((t, r) => [t, r]));
    return Math.min(...img2txt[i].map((t) => pos.get(t) as number));
  });
  const ir = t2i.map((scores, t) => rankOrder(scores).indexOf(txt2img[t]));
  const r: Recalls = {
    txt_r1: percentAtMost(tr, 1),
    txt_r5: percentAtMost(tr, 5),
    txt_r10: percentAtMost(tr, 10),
    txt_r_mean: 0,
    img_r1: percentAtMost(ir, 1),
    img_r5: percentAtMost(ir, 5),
    img_r10: percentAtMost(ir, 10),
    img_r_mean: 0,
    r_mean: 0,
  };
  r.txt_r_mean = (r.txt_r1 + r.txt_r5 + r.txt_r10) / 3;
  r.img_r_mean = (r.img_r1 + r.img_r5 + r.img_r10) / 3;
  r.r_mean = (r.txt_r_mean + r.img_r_mean) / 2;
  return r;
}

/**
 * Both shortlists of a similarity matrix (rows = images or videos, columns = texts), the pairs to
 * re-score (each row's own shortlist plus the texts that shortlisted it), and the two score
 * matrices filled with OUTSIDE, ready for `place`.
 */
export function shortlistPairs(sims: number[][], nTexts: number, kTest: number) {
  const rowLists = sims.map((row) => shortlist(row, kTest));
  const colLists = Array.from({ length: nTexts }, (_, t) =>
    shortlist(
      sims.map((row) => row[t]),
      kTest,
    ),
  );
  const pairs: Set<number>[] = sims.map((_, i) => new Set(rowLists[i]));
  colLists.forEach((rows, t) => rows.forEach((i) => pairs[i].add(t)));
  const inRow = rowLists.map((l) => new Set(l));
  const inCol = colLists.map((l) => new Set(l));
  const rowScores = sims.map(() => new Array<number>(nTexts).fill(OUTSIDE));
  const colScores = Array.from({ length: nTexts }, () => new Array<number>(sims.length).fill(OUTSIDE));
  /** Records the score of pair (i, t) in each matrix whose shortlist holds it. */
  const place = (i: number, t: number, score: number) => {
    if (inRow[i].has(t)) rowScores[i][t] = score;
    if (inCol[t].has(i)) colScores[t][i] = score;
  };
  return { pairs, rowScores, colScores, place };
}

import { TextOptions } from '../model/blip-itm';

/**
 * BLIP's retrieval protocol, shared by image search and caption ranking: a shortlist of the
 * top `rerank` candidates by ITC cosine, each re-scored by the ITM head, ordered by that score.
 */

/**
 * 'itm' (default): by ITM match probability softmax(logits)[1].
 * 'blip': by ITM match logit[1] + ITC cosine, the score BLIP's and LAVIS's retrieval evaluation
 * (compute_sim_matrix / evaluation in train_retrieval.py) ranks the shortlist by.
 */
export type RerankOrder = 'itm' | 'blip';
export const RERANK_ORDERS: readonly RerankOrder[] = ['itm', 'blip'];

export const DEFAULT_RERANK = 16;
export const DEFAULT_TOP_K = 10;

export interface RetrievalOptions extends TextOptions {
  /** How many of the best ITC candidates to re-score with ITM (default 16; BLIP's COCO evaluation uses 256). 0: ITC only. */
  rerank?: number;
  /** Results to return (default 10); at most `rerank` when re-ranking. */
  topK?: number;
  order?: RerankOrder;
}

export interface Scored {
  /** Position of the candidate in the searched collection. */
  index: number;
  /** ITC cosine similarity. */
  itc: number;
  /** ITM match probability (absent with rerank 0). */
  itm?: number;
  /** ITM match logit, logits[1] (absent with rerank 0). */
  itmLogit?: number;
}

/** Validated counts: `rerank` candidates to re-score, `topK` results (≤ rerank when re-ranking). */
export function counts(opts: RetrievalOptions): { rerank: number; topK: number; order: RerankOrder } {
  const rerank = opts.rerank ?? DEFAULT_RERANK;
  const topK = opts.topK ?? DEFAULT_TOP_K;
  const order = opts.order ?? 'itm';
  if (!Number.isInteger(rerank) || rerank < 0) throw new Error(`rerank must be a whole number ≥ 0, got ${rerank}`);
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`topK must be a whole number ≥ 1, got ${topK}`);
  if (!RERANK_ORDERS.includes(order)) throw new Error(`order must be ${RERANK_ORDERS.join(' or ')}, got ${order}`);
  return { rerank, topK: rerank > 0 ? Math.min(topK, rerank) : topK, order };
}

/** a ranks before b: higher score, then lower index (NaN last). */
function better(sa: number, ia: number, sb: number, ib: number): boolean {
  const a = Number.isNaN(sa) ? -Infinity : sa;
  const b = Number.isNaN(sb) ? -Infinity : sb;
  return a > b || (a === b && ia < ib);
}

/** Indices of the k best scores, best first: a size-k heap, O(n log k). */
export function topIndices(scores: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  k = Math.min(k, n);
  if (k <= 0) return [];
  // Min-heap on "better": heap[0] is the worst of the best k so far.
  const heap: number[] = [];
  const worse = (x: number, y: number) => better(scores[y], y, scores[x], x);
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i);
      up(heap.length - 1);
    } else if (better(scores[i], i, scores[heap[0]], heap[0])) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => (better(scores[a], a, scores[b], b) ? -1 : 1));
}

/** Re-scored candidates, best first by `order`; ties by ITC, then index. */
export function orderReranked(items: Scored[], order: RerankOrder): Scored[] {
  const key = (s: Scored) => (order === 'blip' ? (s.itmLogit ?? -Infinity) + s.itc : (s.itm ?? -Infinity));
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return better(ka, 0, kb, 0) ? -1 : 1;
    if (a.itc !== b.itc) return b.itc - a.itc;
    return a.index - b.index;
  });
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

import { BlipItm, ImageLike } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { RetrievalOptions, Scored, counts, dot, orderReranked, topIndices } from './scoring';

export interface RankedText {
  text: string;
  /** Position in the given list. */
  index: number;
  /** ITC cosine similarity. */
  itc: number;
  /** ITM match probability (absent with rerank 0). */
  itm?: number;
  /** ITM match logit (absent with rerank 0). */
  itmLogit?: number;
}

/**
 * Captions ranked for one image, BLIP's way: ITC cosine of every text, then the best `rerank`
 * (default 16, so every text when there are few) re-scored by ITM and ordered by it.
 * An ImageEmbedding is used as is (and stays the caller's); anything else is encoded once.
 */
export async function rankTexts(model: BlipItm, image: ImageLike, texts: string[], opts: RetrievalOptions = {}): Promise<RankedText[]> {
  const { rerank, topK, order } = counts(opts);
  if (!Array.isArray(texts) || texts.length === 0) throw new Error('no text given');
  const embedding = image instanceof ImageEmbedding ? image : (await model.encodeImages([image]))[0];
  try {
    const textEmbeds = await model.encodeTexts(texts, opts);
    const cosine = textEmbeds.map((t) => dot(embedding.itcEmbedding, t));
    let ranked: Scored[];
    if (rerank === 0) {
      ranked = topIndices(cosine, topK).map((index) => ({ index, itc: cosine[index] }));
    } else {
      const shortlist = topIndices(cosine, rerank);
      // One image, many texts: match() batches the texts against the image's cached keys/values.
      const m = await model.match(
        [embedding],
        shortlist.map((i) => texts[i]),
        opts,
      );
      const scored = shortlist.map((index, j) => ({ index, itc: cosine[index], itm: m.probs[0][j], itmLogit: m.logits[0][j][1] }));
      ranked = orderReranked(scored, order).slice(0, topK);
    }
    return ranked.map((s) => ({ text: texts[s.index], ...s }));
  } finally {
    if (embedding !== image) embedding.dispose();
  }
}

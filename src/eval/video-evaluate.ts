import { BlipItm } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { VideoDecoder } from '../video/source';
import { EvalSet } from './annotations';
import { EVAL_TEXT, dotF32 } from './evaluate';
import { Recalls, rankOrder, recalls, shortlistPairs } from './protocol';

/** BLIP's video itm_eval keys (eval_retrieval_video.py). */
export interface VideoRecalls {
  txt_r1: number;
  txt_r5: number;
  txt_r10: number;
  txt_r_mean: number;
  vid_r1: number;
  vid_r5: number;
  vid_r10: number;
  vid_r_mean: number;
  /** Median rank (1-based) of the right video for each text. */
  vid_mdR: number;
  r_mean: number;
}

export interface VideoEvalOptions {
  /** Shortlist size each way (BLIP's MSRVTT config: 128); capped at the candidates. */
  kTest?: number;
  /** Frames per video (num_frm_test: 8). */
  frames?: number;
  decoder?: VideoDecoder;
  /**
   * Bytes of video states kept in memory between the two passes (default 2 GiB; an 8-frame video
   * of the base model holds 14 MB). Videos past it are encoded again for the ITM pass.
   */
  keepBytes?: number;
  onProgress?: (stage: 'videos' | 'itm', done: number, total: number) => void;
}

export interface VideoEvalResult {
  recalls: VideoRecalls;
  /** ITC cosine, videos x texts. */
  sims: number[][];
  /** Video -> text scores: ITM match logit + ITC inside each video's shortlist, -100 elsewhere. */
  v2t: number[][];
  /** Text -> video scores, texts x videos. */
  t2v: number[][];
  kTest: number;
}

/**
 * BLIP's zero-shot video retrieval evaluation (eval_retrieval_video.py): texts with max_length 35
 * and [ENC] at position 0 of the ITM input; each video encoded with the video protocol
 * (encodeVideos); ITC similarity shortlists k_test texts per video and k_test videos per text,
 * re-scored as ITM logit + ITC, -100 elsewhere. A pair's ITM score does not depend on which
 * direction shortlisted it, so each video is matched once against the union of its pairs.
 */
export async function evaluateVideos(model: BlipItm, set: EvalSet, opts: VideoEvalOptions = {}): Promise<VideoEvalResult> {
  const kTest = opts.kTest ?? 128;
  if (!Number.isInteger(kTest) || kTest < 1) throw new Error(`k_test must be a whole number ≥ 1, got ${kTest}`);
  const videoOpts = { frames: opts.frames, decoder: opts.decoder };
  const encode = async (i: number): Promise<ImageEmbedding> => (await model.encodeVideos([set.images[i]], videoOpts))[0];
  const textEmbeds = await model.encodeTexts(set.texts, EVAL_TEXT);
  const kept = new Map<number, ImageEmbedding>();
  let keptBytes = 0;
  const keepLimit = opts.keepBytes ?? 2 ** 31;
  try {
    const sims: number[][] = [];
    for (let i = 0; i < set.images.length; i++) {
      const e = await encode(i);
      sims.push(textEmbeds.map((t) => dotF32(e.itcEmbedding, t)));
      const bytes = e.states.size * 4;
      if (keptBytes + bytes <= keepLimit) {
        kept.set(i, e);
        keptBytes += bytes;
      } else e.dispose();
      opts.onProgress?.('videos', i + 1, set.images.length);
    }
    const nVid = set.images.length;
    const { pairs, rowScores: v2t, colScores: t2v, place } = shortlistPairs(sims, set.texts.length, kTest);
    for (let i = 0; i < nVid; i++) {
      const texts = [...pairs[i]].sort((a, b) => a - b);
      const embedding = kept.get(i) ?? (await encode(i));
      try {
        const m = await model.match(
          [embedding],
          texts.map((t) => set.texts[t]),
          EVAL_TEXT,
        );
        texts.forEach((t, j) => place(i, t, m.logits[0][j][1] + sims[i][t]));
      } finally {
        embedding.dispose();
        kept.delete(i);
      }
      opts.onProgress?.('itm', i + 1, nVid);
    }
    return { recalls: videoRecalls(v2t, t2v, set), sims, v2t, t2v, kTest };
  } finally {
    for (const e of kept.values()) e.dispose();
  }
}

/** itm_eval of eval_retrieval_video.py, on the image protocol's ranking (ties by position). */
export function videoRecalls(v2t: number[][], t2v: number[][], set: Pick<EvalSet, 'txt2img' | 'img2txt'>): VideoRecalls {
  const r: Recalls = recalls(v2t, t2v, set.txt2img, set.img2txt);
  const ranks = t2v.map((scores, t) => rankOrder(scores).indexOf(set.txt2img[t]) + 1).sort((a, b) => a - b);
  const mid = ranks.length >> 1;
  const mdR = ranks.length % 2 ? ranks[mid] : (ranks[mid - 1] + ranks[mid]) / 2; // np.median
  return {
    txt_r1: r.txt_r1,
    txt_r5: r.txt_r5,
    txt_r10: r.txt_r10,
    txt_r_mean: r.txt_r_mean,
    vid_r1: r.img_r1,
    vid_r5: r.img_r5,
    vid_r10: r.img_r10,
    vid_r_mean: r.img_r_mean,
    vid_mdR: mdR,
    r_mean: r.r_mean,
  };
}

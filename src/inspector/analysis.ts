import * as tf from '@tensorflow/tfjs-core';
// Type-only imports: the browser bundle (src/browser/index.ts) carries this file, so nothing here may reach Node.
import type { RawImage } from '../image';
import type { BlipItm } from '../model/blip-itm';
import { ACTIVATION } from './names';

/**
 * Every attention map of one image-text pair, as plain arrays for the page: raw cross-attention
 * and text self-attention per text layer and head, the ViT [CLS] query's attention per layer and
 * head, and attention rollout from [CLS] (Abnar & Zuidema 2020) after each ViT layer.
 * Image maps leave out the image [CLS] key, so a map is the attention paid to the patches.
 */
export interface AttentionSet {
  /** The ITM input's tokens, [CLS] (or [ENC]) first, [SEP] last. */
  tokens: string[];
  /** ITM match probability of the pair (from the same pass). */
  probability: number;
  /** Side of an image map (image_size / patch_size). */
  grid: number;
  /** [textLayer][head][token][grid*grid] */
  cross: number[][][][];
  /** [textLayer][head][queryToken][keyToken] */
  textSelf: number[][][][];
  /** [visionLayer][head][grid*grid]: the [CLS] query's row. */
  vision: number[][][];
  /** [visionLayer][grid*grid]: rollout from [CLS] through layers 0..l. */
  rollout: number[][];
}

/** Maps travel as JSON; 6 significant digits keep a base-model payload near 10 MB. */
export function compact(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(6));
}

function round<T>(x: T): T {
  return (Array.isArray(x) ? x.map(round) : typeof x === 'number' ? compact(x) : x) as T;
}

/** What attentionSet uses of a model. */
export type AttentionModel = Pick<BlipItm, 'config' | 'tokenizer' | 'forward'>;

export async function attentionSet(model: AttentionModel, image: RawImage, text: string, encToken: boolean): Promise<AttentionSet> {
  const out = await model.forward([image], [text], { encToken, activations: true });
  try {
    const get = (name: string): tf.Tensor => {
      const t = out.get(name);
      if (!t) throw new Error(`internal: the forward pass did not return ${name}`);
      return t;
    };
    const textLayers = model.config.text.numHiddenLayers;
    const visionLayers = model.config.vision.numHiddenLayers;
    const cross: number[][][][] = [];
    const textMaps: number[][][][] = [];
    for (let l = 0; l < textLayers; l++) {
      const c = tf.tidy(() => (get(ACTIVATION.crossAttention(l)).squeeze([0]) as tf.Tensor3D).slice([0, 0, 1], [-1, -1, -1]));
      cross.push(round(await c.array()) as number[][][]);
      c.dispose();
      const t = tf.tidy(() => get(ACTIVATION.textAttention(l)).squeeze([0]));
      textMaps.push(round(await t.array()) as number[][][]);
      t.dispose();
    }
    const vision: number[][][] = [];
    const rollout: number[][] = [];
    let product: tf.Tensor2D | null = null;
    for (let l = 0; l < visionLayers; l++) {
      const probs = get(ACTIVATION.visionAttention(l)).squeeze([0]) as tf.Tensor3D; // [H, T, T]
      const cls = tf.tidy(() => probs.slice([0, 0, 1], [-1, 1, -1]).squeeze([1]));
      vision.push(round(await cls.array()) as number[][]);
      cls.dispose();
      const previous: tf.Tensor2D | null = product;
      const next: tf.Tensor2D = tf.tidy(() => {
        const mean = probs.mean(0) as tf.Tensor2D;
        const withIdentity = mean.add(tf.eye(mean.shape[0])) as tf.Tensor2D;
        const rows = withIdentity.div(withIdentity.sum(1, true)) as tf.Tensor2D;
        return previous ? tf.matMul(rows, previous) : rows;
      });
      probs.dispose();
      previous?.dispose();
      product = next;
      const fromCls = tf.tidy(() => next.slice([0, 1], [1, -1]).squeeze([0]));
      rollout.push(round(Array.from(await fromCls.data())));
      fromCls.dispose();
    }
    (product as tf.Tensor2D | null)?.dispose();
    const ids = ((await get(ACTIVATION.inputIds).array()) as number[][])[0];
    const tokens = ids.map((id) => model.tokenizer.idToToken(id) ?? `[${id}]`);
    if (encToken) tokens[0] = '[ENC]'; // forward() puts [ENC] into the ITM input only
    const probability = (await get(ACTIVATION.itmProbs).data())[0];
    const grid = Math.round(Math.sqrt(cross[0]?.[0]?.[0]?.length ?? vision[0][0].length));
    return { tokens, probability, grid, cross, textSelf: textMaps, vision, rollout };
  } finally {
    out.forEach((t) => t.dispose());
  }
}

/** Word tokens (positions 1..L-2) grouped into words: a '##' piece joins the word before it. */
export function groupWords(tokens: string[]): { text: string; positions: number[] }[] {
  const words: { text: string; positions: number[] }[] = [];
  for (let i = 1; i < tokens.length - 1; i++) {
    const t = tokens[i];
    const last = words[words.length - 1];
    if (t.startsWith('##') && last) {
      last.text += t.slice(2);
      last.positions.push(i);
    } else {
      words.push({ text: t, positions: [i] });
    }
  }
  return words;
}

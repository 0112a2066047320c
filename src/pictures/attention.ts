import * as tf from '@tensorflow/tfjs-core';
import { ImageInput } from '../image';
import { BlipItm, TextOptions, defaultGradcamLayer } from '../model/blip-itm';
import { displayTokens, itmIds } from '../model/text-input';
import { names } from '../nn/names';

/**
 * Raw attention probabilities of one image-text pair, as plain arrays:
 *  - 'cross':  text layer `layer`'s cross-attention (text queries over image tokens), one grid map per text token;
 *  - 'vision': ViT layer `layer`'s self-attention, one grid map per image query ([CLS] first, then the patches);
 *  - 'text':   the ITM text encoder's self-attention at `layer`, one row of L weights per text token.
 * For 'cross' and 'vision' the image [CLS] key is left out, so a map is the attention paid to the
 * patches and sums to at most 1.
 */
export type AttentionKind = 'vision' | 'text' | 'cross';
export const ATTENTION_KINDS: readonly AttentionKind[] = ['cross', 'vision', 'text'];

export interface AttentionOptions extends TextOptions {
  kind: AttentionKind;
  /** Default: the Grad-CAM layer for 'cross' and 'text', the last ViT layer for 'vision'. */
  layer?: number;
  /** One head, or the mean over heads (default). */
  head?: number | 'mean';
}

export interface AttentionMaps {
  kind: AttentionKind;
  layer: number;
  head: number | 'mean';
  /** ITM match probability of the pair. */
  probability: number;
  /** The ITM input's tokens ([CLS] first, [SEP] last). */
  tokens: string[];
  /** One label per map: the text tokens for 'cross'/'text', '[CLS]' and 'patch R,C' for 'vision'. */
  queries: string[];
  /** Side of an image map (image_size / patch_size); for 'text' the maps are token rows instead. */
  grid: number;
  /** Per query: grid*grid row-major values ('cross', 'vision') or L values ('text'). */
  maps: number[][];
}

/** The layer attentionMaps uses when none is given. */
export function defaultAttentionLayer(model: BlipItm, kind: AttentionKind): number {
  return kind === 'vision' ? model.config.vision.numHiddenLayers - 1 : defaultGradcamLayer(model.config.text.numHiddenLayers);
}

export async function attentionMaps(model: BlipItm, image: ImageInput, text: string, opts: AttentionOptions): Promise<AttentionMaps> {
  const { kind } = opts;
  if (!ATTENTION_KINDS.includes(kind)) throw new Error(`attention kind must be one of ${ATTENTION_KINDS.join(', ')}, got "${kind}"`);
  const layers = kind === 'vision' ? model.config.vision.numHiddenLayers : model.config.text.numHiddenLayers;
  const layer = opts.layer ?? defaultAttentionLayer(model, kind);
  const which = kind === 'vision' ? 'vision (ViT)' : 'text';
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
    throw new Error(`attention layer ${layer} is out of range: the ${which} encoder has layers 0..${layers - 1}`);
  }
  const heads = kind === 'vision' ? model.config.vision.numAttentionHeads : model.config.text.numAttentionHeads;
  const head = opts.head ?? 'mean';
  if (head !== 'mean' && (!Number.isInteger(head) || head < 0 || head >= heads)) {
    throw new Error(`attention head ${head} is out of range: the ${which} encoder has heads 0..${heads - 1}`);
  }
  const itm = names.text('itm.text');
  const mapName = { vision: names.vision.attentions, text: itm.attentions, cross: itm.crossAttentions }[kind](layer);
  // Only the one map, the token ids and the match probability are computed and kept.
  const only = [mapName, names.inputIds, names.itm.probs];
  const out = await model.forward([image], [text], { maxLength: opts.maxLength, encToken: opts.encToken, only });
  try {
    const probs = out.get(mapName);
    const ids = out.get(names.inputIds);
    const p = out.get(names.itm.probs);
    if (!probs || !ids || !p) throw new Error(`internal: the forward pass did not return ${mapName}`);
    const picked = tf.tidy(() => {
      const perHead = probs.squeeze([0]) as tf.Tensor3D; // [H, Q, K]
      const q = head === 'mean' ? perHead.mean(0) : perHead.gather([head], 0).squeeze([0]); // [Q, K]
      return kind === 'text' ? q : q.slice([0, 1], [-1, -1]); // drop the image [CLS] key
    });
    const maps = (await picked.array()) as number[][];
    picked.dispose();
    const tokenIds = ((await ids.array()) as number[][])[0];
    const tokens = displayTokens(model.tokenizer, itmIds(tokenIds, model.tokenizer, !!opts.encToken)); // input_ids is the ITC input
    const probability = (await p.data())[0];
    const t = kind === 'text' ? 0 : maps[0].length;
    const grid = Math.round(Math.sqrt(t));
    const queries =
      kind === 'vision'
        ? ['[CLS]', ...Array.from({ length: maps.length - 1 }, (_, i) => `patch ${Math.floor(i / grid)},${i % grid}`)]
        : tokens;
    return { kind, layer, head, probability, tokens, queries, grid, maps };
  } finally {
    out.forEach((x) => x.dispose());
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { BlipConfig } from '../config';
import { linear } from '../nn/linear';
import { l2Normalize } from '../nn/ops';
import { Linear, WeightView } from '../weights/view';

/** Named as the checkpoint's root keys. */
export interface HeadWeights {
  itm_head: Linear; // [2, D_text]
  vision_proj: Linear; // [E, D_vision]
  text_proj: Linear; // [E, D_text]
}

/** Reads `itm_head`, `vision_proj`, `text_proj` from the root view. */
export function loadHeadWeights(w: WeightView, c: BlipConfig): HeadWeights {
  return {
    itm_head: w.at('itm_head').linear(c.text.hiddenSize, 2),
    vision_proj: w.at('vision_proj').linear(c.vision.hiddenSize, c.imageTextHiddenSize),
    text_proj: w.at('text_proj').linear(c.text.hiddenSize, c.imageTextHiddenSize),
  };
}

/** First token of each sequence: [N, L, D] → [N, D]. */
export function firstToken(states: tf.Tensor3D): tf.Tensor2D {
  const [n, , d] = states.shape;
  return states.slice([0, 0, 0], [n, 1, d]).reshape([n, d]) as tf.Tensor2D;
}

/** ITM: logits [N, 2] of (no match, match) from the multimodal text states. */
export function itmLogits(textStates: tf.Tensor3D, w: HeadWeights): tf.Tensor2D {
  return linear(firstToken(textStates), w.itm_head) as tf.Tensor2D;
}

/** Match probability softmax(logits)[:, 1]: [N, 2] → [N]. */
export function matchProbability(logits: tf.Tensor2D): tf.Tensor1D {
  const n = logits.shape[0];
  return tf.softmax(logits, -1).slice([0, 1], [n, 1]).reshape([n]) as tf.Tensor1D;
}

/** ITC image embedding: normalised vision_proj of the class token: [B, T, Dv] → [B, E]. */
export function imageItcEmbeds(imageStates: tf.Tensor3D, w: HeadWeights): tf.Tensor2D {
  return l2Normalize(linear(firstToken(imageStates), w.vision_proj) as tf.Tensor2D);
}

/** ITC text embedding: normalised text_proj of the [CLS] state of the text-only encoder. */
export function textItcEmbeds(textStates: tf.Tensor3D, w: HeadWeights): tf.Tensor2D {
  return l2Normalize(linear(firstToken(textStates), w.text_proj) as tf.Tensor2D);
}

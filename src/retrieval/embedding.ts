import * as tf from '@tensorflow/tfjs';
import { BlipItm } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { Dims } from './index-format';

/** The index's row shape for this model. */
export function modelDims(model: BlipItm): Dims {
  const v = model.config.vision;
  return { embed: model.config.imageTextHiddenSize, tokens: (v.imageSize / v.patchSize) ** 2 + 1, hidden: v.hiddenSize };
}

/**
 * An ImageEmbedding rebuilt from stored features: states [T × D] row-major (the model's
 * post-LayerNorm `vision.last_hidden_state` of one image) and the normalised ITC embedding.
 * The caller disposes it.
 *
 * TODO(lead): this belongs on BlipItm as `embeddingFromStates(states, itc)`; it reads the
 * private text weights through an index access until then.
 */
export function embeddingFromStates(model: BlipItm, states: Float32Array, itc: Float32Array): ImageEmbedding {
  const { embed, tokens, hidden } = modelDims(model);
  if (states.length !== tokens * hidden) {
    throw new Error(`embeddingFromStates: ${states.length} values, expected ${tokens} tokens × ${hidden} = ${tokens * hidden}`);
  }
  if (itc.length !== embed) throw new Error(`embeddingFromStates: ITC embedding of ${itc.length} values, expected ${embed}`);
  const text = model['text']; // private; see the TODO above
  return new ImageEmbedding(tf.tensor3d(states, [1, tokens, hidden]), itc, text.layers, model.config.text.numAttentionHeads);
}

import * as tf from '@tensorflow/tfjs-core';
import { VisionConfig } from '../config';
import { LayerNormWeights, Linear, WeightView } from '../weights/view';

/*
 * Property names mirror the checkpoint keys under `vision_model.` (e.g.
 * `vision_model.encoder.layers.3.self_attn.qkv.weight` is `encoder.layers[3].self_attn.qkv.weight`),
 * so grepping a key lands where it is used.
 */

export interface VisionLayerWeights {
  layer_norm1: LayerNormWeights;
  self_attn: {
    qkv: Linear; // [3D, D]: q, k, v stacked on the output axis
    projection: Linear; // [D, D]
  };
  layer_norm2: LayerNormWeights;
  mlp: { fc1: Linear; fc2: Linear }; // [F, D], [D, F]
}

export interface VisionWeights {
  embeddings: {
    class_embedding: tf.Tensor; // [1, 1, D]
    patch_embedding: Linear; // the stride-p conv as a matrix [D, 3*p*p] (c, y, x order)
    position_embedding: tf.Tensor; // [1, T, D]
  };
  encoder: { layers: VisionLayerWeights[] };
  post_layernorm: LayerNormWeights;
}

/** Reads `vision_model.*`; `w` is the view at `vision_model`. */
export function loadVisionWeights(w: WeightView, c: VisionConfig): VisionWeights {
  const d = c.hiddenSize;
  const eps = c.layerNormEps;
  const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
  const emb = w.at('embeddings');
  const layers: VisionLayerWeights[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = w.at('encoder.layers').at(i);
    layers.push({
      layer_norm1: l.at('layer_norm1').layerNorm(d, eps),
      self_attn: {
        qkv: l.at('self_attn.qkv').linear(d, 3 * d),
        projection: l.at('self_attn.projection').linear(d, d),
      },
      layer_norm2: l.at('layer_norm2').layerNorm(d, eps),
      mlp: {
        fc1: l.at('mlp.fc1').linear(d, c.intermediateSize),
        fc2: l.at('mlp.fc2').linear(c.intermediateSize, d),
      },
    });
  }
  return {
    embeddings: {
      class_embedding: emb.get('class_embedding', [1, 1, d]),
      patch_embedding: emb.at('patch_embedding').patchConv(3, d, c.patchSize),
      position_embedding: emb.get('position_embedding', [1, tokens, d]),
    },
    encoder: { layers },
    post_layernorm: w.at('post_layernorm').layerNorm(d, eps),
  };
}

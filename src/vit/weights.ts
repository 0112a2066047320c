import * as tf from '@tensorflow/tfjs';
import { VisionConfig } from '../config';
import { LayerNormWeights, Linear, WeightView } from '../weights/view';

export interface VisionLayerWeights {
  layerNorm1: LayerNormWeights;
  qkv: Linear;        // fused [3D, D]: q, k, v stacked on the output axis
  projection: Linear;
  layerNorm2: LayerNormWeights;
  fc1: Linear;
  fc2: Linear;
}

export interface VisionWeights {
  classEmbedding: tf.Tensor;    // [1, 1, D]
  positionEmbedding: tf.Tensor; // [1, T, D]
  patchEmbedding: Linear;       // [D, 3*p*p]
  layers: VisionLayerWeights[];
  postLayerNorm: LayerNormWeights;
}

/** Reads `vision_model.*`; `w` is the view at `vision_model`. */
export function loadVisionWeights(w: WeightView, c: VisionConfig): VisionWeights {
  const d = c.hiddenSize;
  const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
  const emb = w.at('embeddings');
  const layers: VisionLayerWeights[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = w.at('encoder.layers').at(i);
    layers.push({
      layerNorm1: l.at('layer_norm1').layerNorm(d, c.layerNormEps),
      qkv: l.at('self_attn.qkv').linear(d, 3 * d),
      projection: l.at('self_attn.projection').linear(d, d),
      layerNorm2: l.at('layer_norm2').layerNorm(d, c.layerNormEps),
      fc1: l.at('mlp.fc1').linear(d, c.intermediateSize),
      fc2: l.at('mlp.fc2').linear(c.intermediateSize, d),
    });
  }
  return {
    classEmbedding: emb.get('class_embedding', [1, 1, d]),
    positionEmbedding: emb.get('position_embedding', [1, tokens, d]),
    patchEmbedding: emb.at('patch_embedding').patchConv(3, d, c.patchSize),
    layers,
    postLayerNorm: w.at('post_layernorm').layerNorm(d, c.layerNormEps),
  };
}

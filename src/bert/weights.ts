import * as tf from '@tensorflow/tfjs-core';
import { TextConfig } from '../config';
import { LayerNormWeights, Linear, WeightView } from '../weights/view';

/*
 * Property names mirror the checkpoint keys under `text_encoder.` (e.g.
 * `text_encoder.encoder.layer.3.crossattention.self.key.weight` is
 * `encoder.layer[3].crossattention.self.key.weight`), so grepping a key lands where it is used.
 */

/** A dense projection followed by LayerNorm of the residual sum (BERT's post-norm outputs). */
export interface DenseLayerNorm {
  dense: Linear;
  LayerNorm: LayerNormWeights;
}

export interface BertAttentionWeights {
  self: {
    query: Linear; // [D, D]
    key: Linear; // [D, kvDim]: kvDim is the image width for cross-attention
    value: Linear; // [D, kvDim]
  };
  output: DenseLayerNorm;
}

export interface TextLayerWeights {
  attention: BertAttentionWeights;
  crossattention: BertAttentionWeights;
  intermediate: { dense: Linear }; // [F, D]
  output: DenseLayerNorm; // dense [D, F]
}

export interface TextWeights {
  embeddings: {
    word_embeddings: { weight: tf.Tensor2D }; // [V, D]
    position_embeddings: { weight: tf.Tensor2D }; // [P, D]
    LayerNorm: LayerNormWeights;
  };
  encoder: { layer: TextLayerWeights[] };
}

function denseLayerNorm(w: WeightView, inDim: number, d: number, eps: number): DenseLayerNorm {
  return { dense: w.at('dense').linear(inDim, d), LayerNorm: w.at('LayerNorm').layerNorm(d, eps) };
}

function attentionWeights(w: WeightView, d: number, kvDim: number, eps: number): BertAttentionWeights {
  return {
    self: {
      query: w.at('self.query').linear(d, d),
      key: w.at('self.key').linear(kvDim, d),
      value: w.at('self.value').linear(kvDim, d),
    },
    output: denseLayerNorm(w.at('output'), d, d, eps),
  };
}

/** Reads `text_encoder.*`; `w` is the view at `text_encoder`. */
export function loadTextWeights(w: WeightView, c: TextConfig): TextWeights {
  const d = c.hiddenSize;
  const eps = c.layerNormEps;
  const layer: TextLayerWeights[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = w.at('encoder.layer').at(i);
    layer.push({
      attention: attentionWeights(l.at('attention'), d, d, eps),
      crossattention: attentionWeights(l.at('crossattention'), d, c.encoderHiddenSize, eps),
      intermediate: { dense: l.at('intermediate.dense').linear(d, c.intermediateSize) },
      output: denseLayerNorm(l.at('output'), c.intermediateSize, d, eps),
    });
  }
  const emb = w.at('embeddings');
  return {
    embeddings: {
      word_embeddings: { weight: emb.get('word_embeddings.weight', [c.vocabSize, d]) as tf.Tensor2D },
      position_embeddings: { weight: emb.get('position_embeddings.weight', [c.maxPositionEmbeddings, d]) as tf.Tensor2D },
      LayerNorm: emb.at('LayerNorm').layerNorm(d, eps),
    },
    encoder: { layer },
  };
}

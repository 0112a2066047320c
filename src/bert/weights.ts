import * as tf from '@tensorflow/tfjs';
import { TextConfig } from '../config';
import { LayerNormWeights, Linear, WeightView } from '../weights/view';

export interface AttentionWeights {
  query: Linear;
  key: Linear;     // [D, kvDim]: kvDim is the image width for cross-attention
  value: Linear;
  outputDense: Linear;
  outputLayerNorm: LayerNormWeights;
}

export interface TextLayerWeights {
  attention: AttentionWeights;
  crossattention: AttentionWeights;
  intermediate: Linear;
  output: Linear;
  outputLayerNorm: LayerNormWeights;
}

export interface TextWeights {
  wordEmbeddings: tf.Tensor2D;     // [V, D]
  positionEmbeddings: tf.Tensor2D; // [P, D]
  embeddingsLayerNorm: LayerNormWeights;
  layers: TextLayerWeights[];
}

function attentionWeights(w: WeightView, d: number, kvDim: number, eps: number): AttentionWeights {
  return {
    query: w.at('self.query').linear(d, d),
    key: w.at('self.key').linear(kvDim, d),
    value: w.at('self.value').linear(kvDim, d),
    outputDense: w.at('output.dense').linear(d, d),
    outputLayerNorm: w.at('output.LayerNorm').layerNorm(d, eps),
  };
}

/** Reads `text_encoder.*`; `w` is the view at `text_encoder`. */
export function loadTextWeights(w: WeightView, c: TextConfig): TextWeights {
  const d = c.hiddenSize;
  const eps = c.layerNormEps;
  const layers: TextLayerWeights[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = w.at('encoder.layer').at(i);
    layers.push({
      attention: attentionWeights(l.at('attention'), d, d, eps),
      crossattention: attentionWeights(l.at('crossattention'), d, c.encoderHiddenSize, eps),
      intermediate: l.at('intermediate.dense').linear(d, c.intermediateSize),
      output: l.at('output.dense').linear(c.intermediateSize, d),
      outputLayerNorm: l.at('output.LayerNorm').layerNorm(d, eps),
    });
  }
  const emb = w.at('embeddings');
  return {
    wordEmbeddings: emb.get('word_embeddings.weight', [c.vocabSize, d]) as tf.Tensor2D,
    positionEmbeddings: emb.get('position_embeddings.weight', [c.maxPositionEmbeddings, d]) as tf.Tensor2D,
    embeddingsLayerNorm: emb.at('LayerNorm').layerNorm(d, eps),
    layers,
  };
}

import { names } from '../nn/names';

/** The activation names the inspector reads from `model.forward`, taken from the model's one name table. */
export const ACTIVATION = {
  inputIds: names.inputIds,
  itmProbs: names.itm.probs,
  /** [1, heads, T, T] per ViT layer. */
  visionAttention: (layer: number) => names.vision.attentions(layer),
  /** [1, heads, L, T] per text layer: text queries over image tokens. */
  crossAttention: (layer: number) => names.text('itm.text').crossAttentions(layer),
  /** [1, heads, L, L] per text layer of the ITM pass. */
  textAttention: (layer: number) => names.text('itm.text').attentions(layer),
} as const;

/**
 * The activation names the inspector reads from `model.forward`, in one place so that a rename
 * in the model's name table needs one edit here.
 */
export const ACTIVATION = {
  inputIds: 'input_ids',
  itmProbs: 'itm.probs',
  /** [1, heads, T, T] per ViT layer. */
  visionAttention: (layer: number) => `vision.attentions.${layer}`,
  /** [1, heads, L, T] per text layer: text queries over image tokens. */
  crossAttention: (layer: number) => `itm.text.cross_attentions.${layer}`,
  /** [1, heads, L, L] per text layer of the ITM pass. */
  textAttention: (layer: number) => `itm.text.attentions.${layer}`,
} as const;

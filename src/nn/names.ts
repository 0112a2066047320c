/**
 * Every activation name the model records, built in one place. The names are those of
 * transformers' reference dumps (scripts/reference), so files compare key by key.
 */

/** Which text pass: `itm.text` cross-attends to the image (ITM), `itc.text` is text-only (ITC). */
/** A layer index, or its placeholder in help texts. */
export type Index = number | '{i}' | '{L}';

export type TextPass = 'itm.text' | 'itc.text';

export const names = {
  pixelValues: 'pixel_values',
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  vision: {
    /** [1, T, D] per image; 0 is the embeddings, i + 1 the output of layer i. */
    hiddenStates: (i: Index) => `vision.hidden_states.${i}`,
    /** [1, H, T, T] per image. */
    attentions: (i: Index) => `vision.attentions.${i}`,
    /** [B, T, D]: after post_layernorm (the image embedding). */
    lastHiddenState: 'vision.last_hidden_state',
  },
  text: (pass: TextPass) => ({
    hiddenStates: (i: Index) => `${pass}.hidden_states.${i}`,
    attentions: (i: Index) => `${pass}.attentions.${i}`,
    /** [N, H, L, T] (itm.text only). */
    crossAttentions: (i: Index) => `${pass}.cross_attentions.${i}`,
  }),
  itm: { logits: 'itm.logits', probs: 'itm.probs' },
  itc: { imageEmbeds: 'itc.image_embeds', textEmbeds: 'itc.text_embeds', cosine: 'itc.cosine' },
  /** [N, L, g, g]: Grad-CAM over text layer L's cross-attention. */
  gradcam: (layer: Index) => `gradcam.${layer}`,
} as const;

/** Every name pattern, for help texts: `{i}` a layer index, `{L}` the Grad-CAM layer. */
export const NAME_PATTERNS: readonly string[] = [
  names.pixelValues,
  names.inputIds,
  names.attentionMask,
  names.vision.hiddenStates('{i}'),
  names.vision.attentions('{i}'),
  names.vision.lastHiddenState,
  ...(['itm.text', 'itc.text'] as const).flatMap((p) => {
    const t = names.text(p);
    const i = '{i}';
    return p === 'itm.text' ? [t.hiddenStates(i), t.attentions(i), t.crossAttentions(i)] : [t.hiddenStates(i), t.attentions(i)];
  }),
  names.itm.logits,
  names.itm.probs,
  names.itc.imageEmbeds,
  names.itc.textEmbeds,
  names.itc.cosine,
  names.gradcam('{L}'),
];

/** What a requested name needs computed: `layer` is the last encoder layer that must run (-1: the embeddings only). */
export type Parsed =
  | { part: 'input' }
  | { part: 'vision'; layer?: number }
  | { part: 'text'; pass: TextPass; layer: number }
  | { part: 'itm' }
  | { part: 'itc' }
  | { part: 'gradcam'; layer: number };

/** Parses a name of the table; unknown names are an error listing the patterns. */
export function parseName(name: string): Parsed {
  if (name === names.pixelValues || name === names.inputIds || name === names.attentionMask) return { part: 'input' };
  if (name === names.vision.lastHiddenState) return { part: 'vision' };
  if (name === names.itm.logits || name === names.itm.probs) return { part: 'itm' };
  if (Object.values(names.itc).includes(name as never)) return { part: 'itc' };
  // hidden_states.{i} is the output of layer i - 1 (0: the embeddings); attentions.{i} is made inside layer i.
  const layerOf = (kind: string, i: string) => (kind === 'hidden_states' ? Number(i) - 1 : Number(i));
  let m = /^vision\.(hidden_states|attentions)\.(\d+)$/.exec(name);
  if (m) return { part: 'vision', layer: layerOf(m[1], m[2]) };
  m = /^(itm\.text|itc\.text)\.(hidden_states|attentions|cross_attentions)\.(\d+)$/.exec(name);
  if (m && !(m[1] === 'itc.text' && m[2] === 'cross_attentions')) {
    return { part: 'text', pass: m[1] as TextPass, layer: layerOf(m[2], m[3]) };
  }
  m = /^gradcam\.(\d+)$/.exec(name);
  if (m) return { part: 'gradcam', layer: Number(m[1]) };
  throw new Error(`unknown activation name "${name}"; names are: ${NAME_PATTERNS.join(', ')}`);
}

// @ts-check
// What each view shows, as numbers: pure functions of the API's data, no drawing. The words and
// the whole caption come from the session (src/inspector/session.ts); nothing here groups tokens.
import { mean } from './draw.js';

/** @typedef {import('../session').GradcamView} GradcamView */
/** @typedef {import('../session').AttentionView} AttentionView */
/** @typedef {'gradcam' | 'cross' | 'vision' | 'text'} ViewName */
/** @typedef {number | 'mean' | 'rollout'} Head */

/**
 * A chip: the whole caption, [CLS]/[ENC] or [SEP], or one word; `map` is its Grad-CAM map when
 * the data is Grad-CAM's (the session's mean over the word's pieces).
 * @typedef {{ label: string, positions: number[], caption?: boolean, special?: boolean, map?: number[] }} Selection
 */

/**
 * The chips of one caption, in order: whole caption, position 0, the words, [SEP].
 * @param {GradcamView | AttentionView} data
 * @returns {Selection[]}
 */
export function wordSelections(data) {
  const { tokens, words, caption } = data;
  /** @param {number} i */
  const special = (i) => ({ label: tokens[i], positions: [i], special: true, map: 'maps' in data ? data.maps[i] : undefined });
  const whole = { label: 'whole caption', positions: caption.positions, caption: true, map: 'map' in caption ? caption.map : undefined };
  const chips = words.map((w) => ({ label: w.text, positions: w.positions, map: 'map' in w ? w.map : undefined }));
  return [whole, special(0), ...chips, special(tokens.length - 1)];
}

/**
 * @param {number[][]} perHead
 * @param {Head} head
 */
function headMap(perHead, head) {
  return head === 'mean' ? mean(perHead) : perHead[/** @type {number} */ (head)];
}

/** @param {Head} head */
function headName(head) {
  return head === 'mean' ? 'mean of heads' : `head ${head}`;
}

/**
 * The numbers behind one picture: a map over the image grid or a token matrix, and a sentence.
 * @param {ViewName} view
 * @param {GradcamView | AttentionView} data
 * @param {number} layer
 * @param {Head} head
 * @param {Selection} sel
 * @returns {{ map?: number[], matrix?: number[][], describe: string }}
 */
export function picture(view, data, layer, head, sel) {
  if ('maps' in data) {
    return {
      map: sel.map ?? data.caption.map,
      describe:
        `Grad-CAM of the ITM match logit over text layer ${data.layer}'s cross-attention (heads averaged), ${sel.label}` +
        (data.frames > 1 ? `, one map per sampled frame (the caption attends to all ${data.frames} at once)` : ''),
    };
  }
  if (view === 'cross') {
    const perHead = data.cross[layer].map((tokens) => mean(sel.positions.map((p) => tokens[p])));
    return {
      map: headMap(perHead, head),
      describe: `cross-attention of text layer ${layer}, ${headName(head)}: ${sel.label} over the image patches`,
    };
  }
  if (view === 'vision') {
    if (head === 'rollout')
      return {
        map: data.rollout[layer],
        describe: `attention rollout from the image [CLS] through ViT layers 0..${layer} (heads averaged, identity added)`,
      };
    return { map: headMap(data.vision[layer], head), describe: `ViT layer ${layer} self-attention of the [CLS] query, ${headName(head)}` };
  }
  const perHead = data.textSelf[layer];
  const matrix = head === 'mean' ? perHead[0].map((_, q) => mean(perHead.map((h) => h[q]))) : perHead[/** @type {number} */ (head)];
  return {
    matrix,
    describe: `text self-attention of the ITM encoder, layer ${layer}, ${headName(head)} (rows: tokens attending, columns: attended)`,
  };
}

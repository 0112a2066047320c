// What each view shows, as numbers: pure functions of the API's data, no drawing.
import { mean } from './draw.js';

/** Word tokens as chips ([CLS]/[SEP] too): hover shows, click pins. */
export function wordSelections(tokens) {
  const words = [];
  for (let i = 1; i < tokens.length - 1; i++) {
    if (tokens[i].startsWith('##') && words.length) {
      const last = words[words.length - 1];
      last.label += tokens[i].slice(2);
      last.positions.push(i);
    } else {
      words.push({ label: tokens[i], positions: [i] });
    }
  }
  const all = Array.from({ length: Math.max(0, tokens.length - 2) }, (_, i) => i + 1);
  const caption = { label: 'whole caption', positions: all.length ? all : [0], caption: true };
  const special = (i) => ({ label: tokens[i], positions: [i], special: true });
  return [caption, special(0), ...words, special(tokens.length - 1)];
}

function headMap(perHead, head) {
  return head === 'mean' ? mean(perHead) : perHead[head];
}

/** The numbers behind one picture: {map | matrix, describe}. */
export function picture(view, data, layer, head, sel) {
  if (view === 'gradcam') {
    return {
      map: mean(sel.positions.map((p) => data.maps[p])),
      describe: `Grad-CAM of the ITM match logit over text layer ${data.layer}'s cross-attention (heads averaged), ${sel.label}`,
    };
  }
  if (view === 'cross') {
    const perHead = data.cross[layer].map((tokens) => mean(sel.positions.map((p) => tokens[p])));
    return {
      map: headMap(perHead, head),
      describe: `cross-attention of text layer ${layer}, ${head === 'mean' ? 'mean of heads' : `head ${head}`}: ${sel.label} over the image patches`,
    };
  }
  if (view === 'vision') {
    if (head === 'rollout')
      return {
        map: data.rollout[layer],
        describe: `attention rollout from the image [CLS] through ViT layers 0..${layer} (heads averaged, identity added)`,
      };
    return {
      map: headMap(data.vision[layer], head),
      describe: `ViT layer ${layer} self-attention of the [CLS] query, ${head === 'mean' ? 'mean of heads' : `head ${head}`}`,
    };
  }
  const matrix =
    head === 'mean' ? data.textSelf[layer][0].map((_, q) => mean(data.textSelf[layer].map((h) => h[q]))) : data.textSelf[layer][head];
  return {
    matrix,
    describe: `text self-attention of the ITM encoder, layer ${layer}, ${head === 'mean' ? 'mean of heads' : `head ${head}`} (rows: tokens attending, columns: attended)`,
  };
}

import { BlipConfig } from '../../config';
import { checkGradcamLayer } from '../gradcam';
import { names, parseName } from '../../nn/names';

export interface ProbeOptions {
  /** Record every layer's hidden states and attention probabilities (default true; ignored with `only`). */
  activations?: boolean;
  /** Also compute `gradcam.{L}` over text layer L's cross-attention. */
  gradcamLayer?: number;
  /**
   * Compute and return only these names (see nn/names), running only what they need: e.g.
   * ['itm.text.cross_attentions.3'] runs the vision encoder and text layers 0..3 of the ITM pass.
   */
  only?: string[];
}

/** What one probe call runs and records. */
export interface ProbePlan {
  /** Record this name (requested, or needed for a requested one). */
  records(name: string): boolean;
  /** Return this name to the caller. */
  returns(name: string): boolean;
  vision: boolean;
  /** Text layers to run in the ITM pass (undefined: skip the pass); `itmHeads`: also logits/probs. */
  itmLayers?: number;
  itmHeads: boolean;
  itcLayers?: number;
  itcEmbeds: boolean;
  gradcam?: number;
}

/** Every name a full forward returns without per-layer activations. */
const FINAL = new Set<string>([
  names.pixelValues,
  names.inputIds,
  names.attentionMask,
  names.vision.lastHiddenState,
  ...Object.values(names.itm),
  ...Object.values(names.itc),
]);

export function planProbe(c: BlipConfig, opts: ProbeOptions): ProbePlan {
  if (opts.gradcamLayer !== undefined) checkGradcamLayer(opts.gradcamLayer, c.text);
  const gradcamName = opts.gradcamLayer === undefined ? undefined : names.gradcam(opts.gradcamLayer);
  if (!opts.only) {
    const all = opts.activations !== false;
    const returns = (n: string) => all || FINAL.has(n) || n === gradcamName;
    const layers = c.text.numHiddenLayers;
    return {
      records: returns,
      returns,
      vision: true,
      itmLayers: layers,
      itmHeads: true,
      itcLayers: layers,
      itcEmbeds: true,
      gradcam: opts.gradcamLayer,
    };
  }
  const requested = new Set([...opts.only, ...(gradcamName ? [gradcamName] : [])]);
  const needed = new Set(requested);
  const plan: ProbePlan = {
    records: (n) => needed.has(n),
    returns: (n) => requested.has(n),
    vision: false,
    itmHeads: false,
    itcEmbeds: false,
  };
  const runText = (current: number | undefined, layer: number) => Math.max(current ?? 0, layer + 1);
  for (const name of requested) {
    const p = parseName(name);
    if ('layer' in p && p.layer !== undefined) {
      const layers = p.part === 'vision' ? c.vision.numHiddenLayers : c.text.numHiddenLayers;
      if (p.part === 'gradcam') checkGradcamLayer(p.layer, c.text);
      else if (p.layer >= layers) throw new Error(`activation "${name}" is out of range: the encoder has ${layers} layers`);
    }
    if (p.part === 'vision') plan.vision = true;
    if (p.part === 'gradcam') {
      plan.vision = true;
      plan.gradcam = p.layer;
    }
    if (p.part === 'itm' || (p.part === 'text' && p.pass === 'itm.text')) plan.vision = true;
    if (p.part === 'itm') {
      plan.itmLayers = c.text.numHiddenLayers;
      plan.itmHeads = true;
    }
    if (p.part === 'text') {
      if (p.pass === 'itm.text') plan.itmLayers = runText(plan.itmLayers, p.layer);
      else plan.itcLayers = runText(plan.itcLayers, p.layer);
    }
    if (p.part === 'itc') {
      const image = name !== names.itc.textEmbeds;
      const text = name !== names.itc.imageEmbeds;
      if (image) {
        plan.vision = true;
        needed.add(names.vision.lastHiddenState);
      }
      if (text) {
        plan.itcLayers = c.text.numHiddenLayers;
        plan.itcEmbeds = true;
        needed.add(names.itc.textEmbeds);
      }
    }
  }
  return plan;
}

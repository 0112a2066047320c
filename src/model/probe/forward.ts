import * as tf from '@tensorflow/tfjs-core';
import { textForward } from '../../bert/encoder';
import { imageItcEmbeds, itmLogits, matchProbability, textItcEmbeds } from '../../heads/heads';
import { ImageInput } from '../../image';
import { ModelCore, PixelBatch } from '../core';
import { gradcam } from '../gradcam';
import { TextOptions, checkImageList, checkTextOptions, checkTexts, encodingTensors, itmEncoding } from '../text-input';
import { Encoding } from '../../tokenizer';
import { Collector } from './collector';
import { names } from '../../nn/names';
import { ProbeOptions, planProbe } from './plan';

export type ForwardOptions = TextOptions & ProbeOptions;

function isPixelBatch(x: unknown): x is PixelBatch {
  return typeof x === 'object' && x !== null && 'pixelValues' in x && 'shape' in x;
}

/**
 * The forward of every image with every text (image-major pairs), returning the tensors
 * transformers' reference dump names (probe/names). With `only`, just those names, running
 * only what they need. The returned tensors are the caller's to dispose.
 */
export async function probeForward(
  core: ModelCore,
  images: ImageInput[] | PixelBatch,
  texts: string[] | Encoding,
  opts: ForwardOptions = {},
): Promise<Map<string, tf.Tensor>> {
  core.life.check('forward');
  checkTextOptions(opts, 'forward');
  const plan = planProbe(core.config, opts);
  const pixels = isPixelBatch(images) ? images : core.pixels(checkImageList<ImageInput>(images, 'forward'));
  const encoding = Array.isArray(texts) ? core.tokenize(checkTexts(texts, 'forward'), opts, false) : texts;
  const itmInput = itmEncoding(encoding, core.tokenizer, !!opts.encToken);
  const { text_encoder: text, heads } = core.weights;
  const c = core.config;
  const col = new Collector(plan.records);
  const [n, ch, h, w] = pixels.shape;
  const per = ch * h * w;
  try {
    tf.tidy(() => {
      col.record(names.pixelValues, tf.tensor4d(pixels.pixelValues, [n, ch, h, w]));
      const [ids, mask] = encodingTensors(encoding);
      col.record(names.inputIds, ids);
      col.record(names.attentionMask, mask);
    });
    for (let i = 0; i < n && plan.vision; i++) {
      const one: PixelBatch = { pixelValues: pixels.pixelValues.subarray(i * per, (i + 1) * per), shape: [1, ch, h, w] };
      const embedding = await core.embedPixels(one, col);
      try {
        core.life.checkStill('forward');
        tf.tidy(() => {
          const [ids, mask] = encodingTensors(itmInput);
          if (plan.itmLayers !== undefined) {
            const states = textForward(ids, mask, text, c.text, { image: embedding, rec: col, layers: plan.itmLayers });
            if (plan.itmHeads) {
              const logits = itmLogits(states, heads); // [N, 2]
              col.record(names.itm.logits, logits.expandDims(0)); // [1, N, 2] per image
              col.record(names.itm.probs, matchProbability(logits).expandDims(0));
            }
          }
          if (plan.gradcam !== undefined)
            col.record(names.gradcam(plan.gradcam), gradcam(embedding, ids, mask, text, c.text, heads, plan.gradcam));
        });
      } finally {
        embedding.dispose();
      }
    }
    if (plan.itcLayers !== undefined) {
      tf.tidy(() => {
        const [ids, mask] = encodingTensors(encoding);
        const states = textForward(ids, mask, text, c.text, { rec: col, layers: plan.itcLayers });
        if (plan.itcEmbeds) col.record(names.itc.textEmbeds, textItcEmbeds(states, heads));
      });
    }
    const out = col.finish();
    addItc(out, core, plan.returns);
    for (const [name, t] of out)
      if (!plan.returns(name)) {
        t.dispose();
        out.delete(name);
      }
    return out;
  } catch (e) {
    col.dispose();
    throw e;
  }
}

/** itc.image_embeds [B, E] and itc.cosine [B, N] from the recorded image states and text embeddings. */
function addItc(out: Map<string, tf.Tensor>, core: ModelCore, returns: (name: string) => boolean): void {
  const states = out.get(names.vision.lastHiddenState) as tf.Tensor3D | undefined;
  const textEmbeds = out.get(names.itc.textEmbeds) as tf.Tensor2D | undefined;
  if (!states || !(returns(names.itc.imageEmbeds) || returns(names.itc.cosine))) return;
  tf.tidy(() => {
    const imageEmbeds = imageItcEmbeds(states, core.weights.heads);
    out.set(names.itc.imageEmbeds, tf.keep(imageEmbeds));
    if (textEmbeds) out.set(names.itc.cosine, tf.keep(tf.matMul(imageEmbeds, textEmbeds, false, true)));
  });
}

import * as tf from '@tensorflow/tfjs-core';
import { VisionConfig, imageTokens } from '../config';
import { firstToken } from '../heads/heads';
import { linear } from '../nn/linear';
import { l2Normalize } from '../nn/ops';
import { unstack0 } from '../nn/wasm';
import { checkPixelShape, visionForward } from '../vit/encoder';
import { ModelCore, PixelBatch, imageInput } from './core';
import { EmbeddingOptions, ImageEmbedding } from './image-embedding';
import { ImageSource } from './platform';

export interface VisionBatchOptions {
  /**
   * Most images (or video frames) per pass of the vision model. Default 1, image by image: on
   * wasm and cpu a batch measured no faster and needs a batch's memory (docs/performance.md),
   * and on GPU backends the gain is unmeasured while the memory is not (a browser tab's GPU may
   * not have it). 'auto': as many as keep one layer's intermediates within VISION_BATCH_BYTES.
   * Results do not depend on it (up to float rounding on some backends).
   */
  visionBatch?: number | 'auto';
}

/**
 * The memory one batched pass may hold at once (1 GiB): a vision layer's intermediates all live
 * until the layer ends. It also keeps the largest single tensor, the [B, H, T, T] scores, near
 * 1/9 of it (~114 MiB), under WebGPU's default 128 MiB storage-buffer binding limit.
 */
export const VISION_BATCH_BYTES = 2 ** 30;

/** Most images per pass whatever the budget allows (tiny models): keeps cancellation checks frequent. */
const MAX_VISION_BATCH = 32;

/**
 * Float32 tensors of each size one image keeps alive at a vision layer's peak, fitted to
 * tf.profile's peak bytes (a one-layer base ViT, B = 1, 2, 4, 8: 189 MiB per image on wasm, 180
 * on cpu, linear in B; docs/performance.md): attention maps [H, T, T] (scores, scaled, softmax's
 * temporaries, probabilities, per-head copies), MLP activations [T, F] (hidden, GELU's
 * temporaries) and token states [T, D] (norms, q/k/v, context, residuals, transposes).
 */
const LIVE_PER_IMAGE = { attention: 9, mlp: 6, states: 8 };

/** Bytes one image adds to a vision layer's peak. */
export function visionBytesPerImage(v: VisionConfig): number {
  const t = imageTokens(v);
  const { attention, mlp, states } = LIVE_PER_IMAGE;
  return 4 * t * (attention * v.numAttentionHeads * t + mlp * v.intermediateSize + states * v.hiddenSize);
}

/** Images per pass that keep a layer's intermediates within VISION_BATCH_BYTES (1..MAX_VISION_BATCH). */
export function budgetBatchSize(v: VisionConfig): number {
  return Math.max(1, Math.min(MAX_VISION_BATCH, Math.floor(VISION_BATCH_BYTES / visionBytesPerImage(v))));
}

/** Images per vision pass: opts.visionBatch, budgetBatchSize for 'auto', else 1. */
export function visionBatchSize(v: VisionConfig, opts: VisionBatchOptions = {}): number {
  if (opts.visionBatch === 'auto') return budgetBatchSize(v);
  return opts.visionBatch ?? 1;
}

/** Throws unless visionBatch is absent or a positive integer. */
export function checkVisionBatch(opts: VisionBatchOptions, call: string): void {
  const v = opts.visionBatch;
  if (v !== undefined && v !== 'auto' && !(Number.isSafeInteger(v) && v > 0))
    throw new Error(`${call}: visionBatch must be a positive integer or 'auto', got ${String(v)}`);
}

/** `items` in consecutive runs of at most `size`. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Single images' pixels ([1, 3, S, S] each) through the vision model in one pass: each image's
 * post-LayerNorm states [1, T, D], and all their vision_proj(CLS) [B, E], unnormalised. The caller disposes them.
 */
export function encodePixelBatch(core: ModelCore, pixels: PixelBatch[]): { states: tf.Tensor3D[]; proj: tf.Tensor2D } {
  const [, ch, h, w] = pixels[0].shape;
  const per = ch * h * w;
  const values = pixels.length === 1 ? pixels[0].pixelValues : new Float32Array(pixels.length * per);
  if (pixels.length > 1) pixels.forEach((p, i) => values.set(p.pixelValues, i * per));
  return tf.tidy(() => {
    const states = visionForward(tf.tensor4d(values, [pixels.length, ch, h, w]), core.weights.vision_model, core.config.vision); // [B, T, D]
    const proj = linear(firstToken(states), core.weights.heads.vision_proj) as tf.Tensor2D; // [B, E]
    if (pixels.length === 1) return { states: [states], proj };
    const [, t, d] = states.shape;
    return { states: unstack0(states).map((s) => s.reshape([1, t, d]) as tf.Tensor3D), proj }; // B x [T, D] → [1, T, D]
  });
}

/**
 * encodeImages' work: images decoded and preprocessed one by one (so errors are the image's
 * own), the vision model run on batches of visionBatchSize, each image's states kept as its
 * embedding. Stops between images and batches once the model is disposed.
 */
export async function encodeImageBatches(
  core: ModelCore,
  images: ImageSource[],
  opts: EmbeddingOptions & VisionBatchOptions,
): Promise<ImageEmbedding[]> {
  const out: ImageEmbedding[] = [];
  try {
    for (const batch of inBatches(images, visionBatchSize(core.config.vision, opts))) {
      const pixels: PixelBatch[] = [];
      for (const image of batch) {
        const input = await imageInput(image);
        core.life.checkStill('encodeImages');
        pixels.push(checkedPixels(core, core.pixels([input])));
      }
      out.push(...(await embedPixelBatch(core, pixels, opts)));
      core.life.checkStill('encodeImages');
    }
  } catch (e) {
    out.forEach((x) => x.dispose());
    throw e;
  }
  return out;
}

/** The pixels, once checked to be what the vision model takes (before they join a batch). */
export function checkedPixels(core: ModelCore, pixels: PixelBatch): PixelBatch {
  checkPixelShape(pixels.shape, core.config.vision);
  return pixels;
}

async function embedPixelBatch(core: ModelCore, pixels: PixelBatch[], opts: EmbeddingOptions): Promise<ImageEmbedding[]> {
  const { states, proj } = encodePixelBatch(core, pixels);
  const itc = tf.tidy(() => l2Normalize(proj)); // [B, E]
  proj.dispose();
  let data: Float32Array;
  try {
    data = (await itc.data()) as Float32Array;
  } catch (e) {
    states.forEach((s) => s.dispose());
    throw e;
  } finally {
    itc.dispose();
  }
  const e = core.config.imageTextHiddenSize;
  return states.map((s, i) => core.embedding(s, data.slice(i * e, (i + 1) * e), opts));
}

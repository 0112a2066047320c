import * as tf from '@tensorflow/tfjs-core';
import { RawImage } from '../image/types';
import { l2Normalize } from '../nn/ops';
import { unstack0 } from '../nn/wasm';
import { uniformFrameIndices } from '../video/sampling';
import { VideoSource } from '../video/source';
import { ModelCore, PixelBatch } from './core';
import { EmbeddingOptions, ImageEmbedding } from './image-embedding';
import { VisionBatchOptions, checkedPixels, encodePixelBatch, inBatches, visionBatchSize } from './vision-batch';

/**
 * One video as BLIP's eval_retrieval_video.py encodes it: the vision model runs on each sampled
 * frame (resized straight to the image size and normalised like an image, by the same
 * processor); the embedding's states are every frame's last hidden states concatenated,
 * [1, n x T, D], which the text cross-attends to with a mask of ones; its ITC embedding is
 * normalize(mean over frames of vision_proj(CLS_f)), the projections averaged before normalising.
 * A frame sampled twice (videos shorter than n frames) is encoded once and used twice; the
 * distinct frames go through the vision model in batches (model/vision-batch).
 */
export async function embedVideo(
  core: ModelCore,
  source: VideoSource,
  n: number,
  opts: EmbeddingOptions & VisionBatchOptions = {},
): Promise<ImageEmbedding> {
  const indices = uniformFrameIndices(await source.frameCount(), n);
  const distinct = [...new Set(indices)];
  const frames = await source.readFrames(distinct);
  if (frames.length !== distinct.length) {
    throw new Error(`${source.name}: the decoder returned ${frames.length} frames, expected ${distinct.length}`);
  }
  const perFrame = new Map<number, { states: tf.Tensor3D; proj: tf.Tensor2D }>();
  try {
    for (const batch of inBatches([...distinct.keys()], visionBatchSize(core.config.vision, opts))) {
      core.life.checkStill('encodeVideos');
      const pixels = batch.map((k) => framePixels(core, frames[k], `${source.name} frame ${distinct[k]}`));
      const { states, proj } = encodePixelBatch(core, pixels);
      const projs = tf.tidy(() => unstack0(proj).map((p) => p.expandDims(0) as tf.Tensor2D)); // B x [E] → [1, E]
      proj.dispose();
      batch.forEach((k, j) => {
        perFrame.set(distinct[k], { states: states[j], proj: projs[j] });
        frames[k] = EMPTY; // let the decoded pixels go as soon as they are encoded
      });
    }
    const { states, itc } = tf.tidy(() => {
      const parts = indices.map((i) => perFrame.get(i) as { states: tf.Tensor3D; proj: tf.Tensor2D });
      const all =
        parts.length === 1
          ? parts[0].states.clone()
          : tf.concat(
              parts.map((p) => p.states),
              1,
            ); // [1, n*T, D]
      const mean = tf.mean(
        tf.concat(
          parts.map((p) => p.proj),
          0,
        ),
        0,
        true,
      ) as tf.Tensor2D; // [1, E]
      return { states: all as tf.Tensor3D, itc: l2Normalize(mean) };
    });
    let itcData: Float32Array;
    try {
      itcData = (await itc.data()) as Float32Array;
    } catch (e) {
      states.dispose();
      throw e;
    } finally {
      itc.dispose();
    }
    return core.embedding(states, itcData, opts);
  } finally {
    for (const p of perFrame.values()) {
      p.states.dispose();
      p.proj.dispose();
    }
  }
}

const EMPTY: RawImage = { data: new Uint8Array(0), width: 0, height: 0, channels: 3 };

/** One frame preprocessed as an image, errors named after the frame. */
function framePixels(core: ModelCore, frame: RawImage, name: string): PixelBatch {
  try {
    return checkedPixels(core, core.pixels([frame]));
  } catch (e) {
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { BlipConfig } from '../config';
import { TextWeights, loadTextWeights } from '../bert/weights';
import { HeadWeights, imageItcEmbeds, loadHeadWeights } from '../heads/heads';
import { ImageInput, ImageProcessor } from '../image';
import { Recorder } from '../nn/ops';
import { BertTokenizer, Encoding } from '../tokenizer';
import { VisionWeights, loadVisionWeights } from '../vit/weights';
import { visionForward } from '../vit/encoder';
import { WeightView } from '../weights/view';
import { EmbeddingOptions, ImageEmbedding } from './image-embedding';
import { ModelLife } from './owner';
import { ImageSource, installedPlatform, plainImageInput } from './platform';
import { TextOptions, itmEncoding, tokenizeTexts } from './text-input';

/** Preprocessed pixels, e.g. transformers' `pixel_values`: [B, 3, S, S] row-major. */
export interface PixelBatch {
  pixelValues: Float32Array;
  shape: [number, number, number, number];
}

export type ImageLike = ImageSource | ImageEmbedding;

/** An image the platform knows as the core's ImageInput (see Platform.imageInput). */
export function imageInput(image: ImageSource): Promise<ImageInput> {
  const platform = installedPlatform();
  return platform ? platform.imageInput(image) : plainImageInput(image, 'core');
}

/** The model's tensors, named as the checkpoint's top-level prefixes. */
export interface ModelWeights {
  vision_model: VisionWeights;
  text_encoder: TextWeights;
  heads: HeadWeights; // itm_head, vision_proj, text_proj
}

/** Reads every tensor the model uses from the checkpoint root. */
export function loadModelWeights(root: WeightView, config: BlipConfig): ModelWeights {
  return {
    vision_model: loadVisionWeights(root.at('vision_model'), config.vision),
    text_encoder: loadTextWeights(root.at('text_encoder'), config.text),
    heads: loadHeadWeights(root, config),
  };
}

/**
 * What the inference facade (BlipItm) and the probe (probe/forward) share: the parts, the
 * weights, the model's life, and the steps both run (pixels, tokens, image embedding).
 */
export class ModelCore {
  readonly life = new ModelLife();

  constructor(
    readonly config: BlipConfig,
    readonly tokenizer: BertTokenizer,
    readonly processor: ImageProcessor,
    readonly weights: ModelWeights,
  ) {}

  pixels(images: ImageInput[]): PixelBatch {
    const { pixelValues, shape } = this.processor.preprocess(images);
    return { pixelValues, shape };
  }

  /** Tokens of the text-only pass, or of the ITM pass (with [ENC] first when asked). */
  tokenize(texts: string[], opts: TextOptions, forItm: boolean): Encoding {
    const enc = tokenizeTexts(this.tokenizer, this.config.text.maxPositionEmbeddings, texts, opts);
    return forItm ? itmEncoding(enc, this.tokenizer, !!opts.encToken) : enc;
  }

  /** One image's pixels [1, 3, S, S] → its embedding (owned by the caller). */
  async embedPixels(pixels: PixelBatch, rec?: Recorder, opts: EmbeddingOptions = {}): Promise<ImageEmbedding> {
    const { states, itc } = tf.tidy(() => {
      const input = tf.tensor4d(pixels.pixelValues, pixels.shape);
      const s = visionForward(input, this.weights.vision_model, this.config.vision, rec);
      return { states: s, itc: imageItcEmbeds(s, this.weights.heads) };
    });
    let itcData: Float32Array;
    try {
      itcData = (await itc.data()) as Float32Array;
    } finally {
      itc.dispose();
    }
    return this.embedding(states, itcData, opts);
  }

  embedding(states: tf.Tensor3D, itc: Float32Array, opts: EmbeddingOptions = {}): ImageEmbedding {
    return new ImageEmbedding(states, itc, this.life, this.weights.text_encoder.encoder.layer, this.config.text.numAttentionHeads, opts);
  }

  /** An embedding for `image`: the given one (checked to be this model's) or a fresh one the caller disposes. */
  async embeddingOf(image: ImageLike, call: string): Promise<{ embedding: ImageEmbedding; fresh: boolean }> {
    this.life.checkStill(call); // callers may have awaited since their first check
    if (image instanceof ImageEmbedding) {
      image.checkUsableBy(this.life, call);
      return { embedding: image, fresh: false };
    }
    const input = await imageInput(image);
    this.life.checkStill(call); // the platform's conversion may have awaited
    const embedding = await this.embedPixels(this.pixels([input]));
    if (this.life.disposed) {
      embedding.dispose();
      this.life.checkStill(call);
    }
    return { embedding, fresh: true };
  }
}

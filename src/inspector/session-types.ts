// The session's data as the page receives it (JSON over HTTP, or objects in the serverless page),
// and its limits. Type-only but for the defaults: session.ts re-exports all of it.
import type { AttentionSet } from './analysis';

export interface InspectorLimits {
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Largest accepted image, in pixels (width x height as the file declares it). */
  maxPixels: number;
  /** Images kept at once; the oldest is dropped past this. */
  maxImages: number;
  /** Captions per request. */
  maxTexts: number;
  /** Characters per caption. */
  maxTextLength: number;
  /** Largest accepted video upload, in bytes. */
  maxVideoBytes: number;
  /** Largest accepted video frame, in pixels. */
  maxFramePixels: number;
  /** Frames a video may have (every frame is decoded to count them). */
  maxVideoLength: number;
  /** Frames sampled per video, at most (each is a ViT pass and a map). */
  maxSampledFrames: number;
}

/**
 * The decoders accept up to Pillow's limit (~179 MP); a web page has no use for that much, and a
 * 50 MP upload already decodes to 150 MB of pixels, so the inspector stops there.
 */
export const DEFAULT_LIMITS: InspectorLimits = {
  maxUploadBytes: 32 * 1024 * 1024,
  maxPixels: 50_000_000,
  maxImages: 16,
  maxTexts: 64,
  maxTextLength: 2000,
  // Videos: a few minutes of phone video; frames up to 4K (DCI); 10 minutes at 30 fps.
  maxVideoBytes: 256 * 1024 * 1024,
  maxFramePixels: 4096 * 2160,
  maxVideoLength: 18_000,
  maxSampledFrames: 16,
};

export interface VideoInfo {
  /** Frames in the video. */
  frameCount: number;
  /** The frame number of each sampled frame, in order: one display copy and one Grad-CAM map each. */
  sampled: number[];
}

export interface ImageInfo {
  id: number;
  name: string;
  /** Size of the image, or of a video's frames. */
  width: number;
  height: number;
  /** Present for a video. */
  video?: VideoInfo;
}

export interface ScoreResult {
  image: number;
  encToken: boolean;
  texts: string[];
  /** ITM match probability per text. */
  probs: number[];
  /** ITM logits [no match, match] per text. */
  logits: [number, number][];
  /** ITC cosine per text. */
  itc: number[];
}

/** A run of token positions with its text: one word (word pieces joined) or the whole caption. */
export interface WordSpan {
  text: string;
  positions: number[];
}

export interface WordMap extends WordSpan {
  map: number[];
}

export interface GradcamView {
  image: number;
  text: string;
  encToken: boolean;
  layer: number;
  grid: number;
  /** 1 for an image; a video's sampled frames (every map then holds frames x grid x grid values, frame-major). */
  frames: number;
  probability: number;
  tokens: string[];
  /** One grid*grid map per token (per frame for a video). */
  maps: number[][];
  /** Whole words (word pieces joined), each the mean of its pieces' maps. */
  words: WordMap[];
  /** The whole caption: mean over the word tokens (no [CLS]/[SEP]), as LAVIS compute_gradcam row 1. */
  caption: WordMap;
}

export interface AttentionView extends AttentionSet {
  image: number;
  text: string;
  encToken: boolean;
  /** Whole words (word pieces joined) and their token positions. */
  words: WordSpan[];
  /** The word tokens of the whole caption (no [CLS]/[SEP]). */
  caption: WordSpan;
}

export interface ModelInfo {
  source: string;
  backend: string;
  textLayers: number;
  textHeads: number;
  visionLayers: number;
  visionHeads: number;
  imageSize: number;
  grid: number;
  defaultGradcamLayer: number;
}

export interface SessionInfo {
  model: ModelInfo;
  images: ImageInfo[];
  texts: string[];
  limits: InspectorLimits;
}

export interface Colormap {
  name: string;
  /** 256 RGB triples, 0..255. */
  lut: number[];
}

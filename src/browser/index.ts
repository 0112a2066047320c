/**
 * blip-itm in the browser. Bundlers reach this entry through package.json's "browser"
 * condition; dist/browser/blip-itm.js is this entry bundled as one ES module.
 * Nothing here reads the file system: models come from URLs, the hub or the user's Files.
 */
export { BlipItm } from './platform';
export type { BrowserLoadOptions, BrowserImageLike } from './platform';
export { useBrowserBackend, BROWSER_BACKENDS } from './backend';
export type { BrowserBackendName, BackendChoice, ComputeDType } from './backend';
export type { BrowserImage } from './images';
export { toImageInput } from './images';
export { modelBaseUrl } from './model-files';
export type { ModelSource, FetchModelOptions } from './model-files';
export { clearCache } from './fetch';
export type { ProgressCallback } from './fetch';
export { BlipItm as CoreBlipItm, defaultGradcamLayer } from '../model/blip-itm';
export type {
  MatchResult,
  GradcamResult,
  TextOptions,
  ForwardOptions,
  PixelBatch,
  ScoreResult,
  ScoreOptions,
  PairScore,
} from '../model/blip-itm';
export { ImageEmbedding } from '../model/image-embedding';
export { parseConfig } from '../config';
export { BertTokenizer } from '../tokenizer';
export { ImageProcessor } from '../image/processor';
export { decodeImage } from '../image/decode';
export { resizeBicubic } from '../image';
export type { ImageInput, RawImage, RgbImage } from '../image';
export { overlayMap, heatMap, colourise } from '../pictures/overlay';
export { SafetensorsFile } from '../weights/safetensors';
export { TorchBinFile } from '../weights/torch-bin';
export { MemoryBytes, drain } from '../weights/source';
export type { ByteReader, ByteSource } from '../weights/source';
/** The tfjs instance the model runs on (e.g. for tf.memory()). */
export * as tf from '@tensorflow/tfjs-core';
/** What the serverless inspector page (dist/browser/inspector/) computes with: the server's own analysis. */
export { attentionSet, compact, groupWords } from '../inspector/analysis';
export type { AttentionSet } from '../inspector/analysis';
export { defaultSelection, meanRows } from '../pictures/tokens';
export { getColormap } from '../pictures/colormap';

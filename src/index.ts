/** blip-itm: BLIP image-text matching on TensorFlow.js. */
export { BlipItm, defaultGradcamLayer } from './model/blip-itm';
export type { LoadOptions, TextOptions, MatchResult, PixelBatch, ImageLike, ForwardOptions, GradcamResult } from './model/blip-itm';
export { ImageEmbedding } from './model/image-embedding';
export { useBackend, BACKENDS } from './backend';
export type { BackendName } from './backend';
export { parseConfig, readConfig } from './config';
export type { BlipConfig, VisionConfig, TextConfig } from './config';
export { BertTokenizer } from './tokenizer';
export { ImageProcessor, decodeImage, resizeBicubic } from './image';
export type { ImageInput, RawImage, RgbImage } from './image';
export { compareTensors, formatDiffs } from './parity/compare';
export type { TensorDiff } from './parity/compare';
export { SafetensorsFile, readAllSafetensors, writeSafetensors } from './weights/safetensors';
export { downloadModel, resolveModel } from './hub';

/**
 * blip-itm in the browser. Bundlers reach this entry through package.json's "browser"
 * condition; dist/browser/blip-itm.js is this entry bundled as one ES module.
 * Nothing here reads the file system: models come from URLs, the hub or the user's Files.
 */
import { usePlatform } from '../model/platform';
import { setDefaultVideoDecoder } from '../video/source';
import { browserPlatform } from './platform';
import { BrowserVideoDecoder } from './video';

// This entry supplies the browser platform (model files over fetch, browser backends, DOM images)
// and its video decoder (File, Blob, URL, <video> → frames).
usePlatform(browserPlatform);
setDefaultVideoDecoder(new BrowserVideoDecoder());

export { BlipItm, defaultGradcamLayer } from '../model/blip-itm';
export type { MatchResult, GradcamResult, TextOptions, ForwardOptions, PixelBatch, ImageLike } from '../model/blip-itm';
export type { ScoreResult, ScoreOptions, PairScore, ScoreProgress } from '../model/blip-itm';
export type { EmbeddingOptions, VisionBatchOptions } from '../model/blip-itm';
export type { BackendInUse, BackendName, ComputeDType, ImageSource, LoadOptions, LoadProgress, ModelSource } from '../model/blip-itm';
export { useBrowserBackend, BROWSER_BACKENDS, setWasmFiles, WASM_FILES } from './backend';
export type { BrowserBackendName, BackendChoice, WasmPaths } from './backend';
export type { BrowserImage } from './images';
export { toImageInput } from './images';
export { modelBaseUrl } from './model-files';
export { BrowserVideoDecoder, DEFAULT_VIDEO_TIMEOUT_MS } from './video';
export type { BrowserVideo, BrowserVideoOptions } from './video';
export { openVideo, DEFAULT_FRAMES, DEFAULT_MAX_VIDEO_FRAMES, VideoDecoderUnavailable, VideoLimitError } from '../video/source';
export { uniformFrameIndices } from '../video/sampling';
export type { VideoDecoder, VideoInput, VideoOptions, VideoSource } from '../video/source';
export type { FetchModelOptions } from './model-files';
export { clearCache } from './fetch';
export type { ProgressCallback } from './fetch';
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
/** The inspector's session, which the serverless inspector page (dist/browser/inspector/) runs in the page. */
export { InspectorSession, DEFAULT_LIMITS, RequestError } from '../inspector/session';
export type * from '../inspector/session';
export { attentionSet } from '../inspector/analysis';
export type { AttentionSet } from '../inspector/analysis';
export { getColormap } from '../pictures/colormap';

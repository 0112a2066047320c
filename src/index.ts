/** blip-itm: BLIP image-text matching on TensorFlow.js. */
import { usePlatform } from './model/platform';
import { nodePlatform } from './node/platform';

// This entry supplies the Node platform (files and the hub, Node backends); see src/model/platform.ts.
usePlatform(nodePlatform);

export { BlipItm, defaultGradcamLayer } from './model/blip-itm';
export type { BackendInUse, ComputeDType, ImageSource, LoadOptions, LoadProgress, ModelSource } from './model/blip-itm';
export type { TextOptions, MatchResult, PixelBatch, ImageLike, ForwardOptions, GradcamResult } from './model/blip-itm';
export type { ScoreResult, ScoreOptions, PairScore, ScoreProgress } from './model/blip-itm';
export type { ModelParts, EmbeddingOptions, VisionBatchOptions } from './model/blip-itm';
export { names as activationNames, NAME_PATTERNS } from './nn/names';
export { prepareModelSource } from './node/platform';
export { ImageEmbedding } from './model/image-embedding';
export { useBackend, backendInfo, BACKENDS } from './node/backend';
export type { BackendName } from './node/backend';
export { parseConfig } from './config';
export { readConfig } from './node/read-config';
export type { BlipConfig, VisionConfig, TextConfig } from './config';
export { NodeBertTokenizer as BertTokenizer } from './node/tokenizer';
export { NodeImageProcessor as ImageProcessor, decodeImage } from './node/image';
export { resizeBicubic } from './image';
export type { ImageInput, RawImage, RgbImage } from './image';
export { compareTensors, formatDiffs } from './parity/compare';
export type { TensorDiff } from './parity/compare';
export { NodeSafetensorsFile as SafetensorsFile, readAllSafetensors, writeSafetensors } from './node/safetensors';
export { downloadModel, resolveModel } from './hub';
export { explainImage } from './pictures/explain';
export type { ExplainOptions } from './pictures/explain';
export { attentionMaps } from './pictures/attention';
export type { AttentionKind } from './pictures/attention';
export { overlayMap } from './pictures/overlay';
export * from './retrieval';
export { MemoryBytes, drain } from './weights/source';
export type { ByteReader, ByteSource } from './weights/source';
export * from './eval';
export { FfmpegDecoder, DEFAULT_MAX_VIDEO_FRAMES, VideoToolMissing } from './node/video';
export type { FfmpegOptions } from './node/video';
export { uniformFrameIndices, DEFAULT_FRAMES, MAX_FRAMES, VideoDecoderUnavailable, VideoLimitError } from './video';
export type { VideoDecoder, VideoInput, VideoOptions, VideoSource } from './video';
export * from './filter';

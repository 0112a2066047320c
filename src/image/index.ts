/** The image preprocessor: what transformers' BlipImageProcessor (PIL backend) makes of an image. */
export type { ImageInput, RawImage, RgbImage } from './types';
export { ImageDecodeError } from './types';
export { decodeImage, sniffFormat } from './decode';
export type { DecodeOptions } from './decode';
export { resizeBicubic, resizeRgb, RESAMPLE } from './resize';
export { applyOrientation, exifOrientation, xmpOrientation } from './exif';
export { ImageProcessor, preprocessToTensors } from './processor';
export type { ImageProcessorConfig, ProcessorOptions, TensorOut } from './processor';

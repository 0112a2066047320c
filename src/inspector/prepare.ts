// Platform-neutral: the session runs this in the page; the Node server runs it in a worker thread.
import { RawImage, RgbImage, decodeImage, resizeBicubic, resizeRgb } from '../image';
import { declaredSize } from './image-size';
import { RequestError } from './request-error';

/** What preparing an upload needs to know: plain data, so it can cross to a worker. */
export interface PrepareOptions {
  /** The model's input size and resampling filter (preprocessor_config.json). */
  width: number;
  height: number;
  resample: number;
  /** False when the preprocessor keeps the native size (the model input is then the full image). */
  doResize: boolean;
  exifTranspose: boolean;
  /** Refuse more pixels than this, from the header, before decoding. */
  maxPixels: number;
  /** Longer side of the display copy. */
  displaySide: number;
}

/**
 * One image as the session keeps it: the pixels the model sees (already resized to its input
 * size, so the preprocessor's resize is a copy and the scores equal the library's for the same
 * file) and a small display copy. The full-size decode is dropped here.
 */
export interface PreparedImage {
  /** Size of the original image (upright). */
  width: number;
  height: number;
  modelInput: RgbImage;
  display: RgbImage;
}

/** Decodes, checks and shrinks one image; a client's bad input is a RequestError. */
export function prepareImage(bytes: Uint8Array, name: string, opts: PrepareOptions): PreparedImage {
  const size = declaredSize(bytes);
  if (!size) {
    throw new RequestError(415, `${name}: not a JPEG, PNG, WebP or GIF image (or its header is damaged); videos go to the video upload`);
  }
  checkPixels(size.width, size.height, name, opts.maxPixels);
  let rgb: RgbImage;
  try {
    rgb = decodeImage(bytes, name, { exifTranspose: opts.exifTranspose, maxPixels: opts.maxPixels });
  } catch (e) {
    throw new RequestError(422, (e as Error).message);
  }
  return { width: rgb.width, height: rgb.height, ...shrink(rgb, opts) };
}

/** The model's input (already at its input size, so the processor's resize is a copy) and the display copy. */
export function shrink(rgb: RgbImage, opts: PrepareOptions): Pick<PreparedImage, 'modelInput' | 'display'> {
  const modelInput = opts.doResize ? resizeRgb(rgb, opts.width, opts.height, opts.resample) : rgb;
  const scale = Math.min(1, opts.displaySide / Math.max(rgb.width, rgb.height));
  const display =
    scale === 1 ? rgb : resizeBicubic(rgb, Math.max(1, Math.round(rgb.width * scale)), Math.max(1, Math.round(rgb.height * scale)));
  return { modelInput, display };
}

/** One decoded video frame (the caller has checked its size) shrunk as an image is. */
export function prepareFrame(frame: RawImage, name: string, opts: PrepareOptions): PreparedImage {
  const rgb = decodeImage(frame, name, { maxPixels: opts.maxPixels });
  return { width: rgb.width, height: rgb.height, ...shrink(rgb, opts) };
}

export function checkPixels(width: number, height: number, name: string, max: number): void {
  if (width * height > max) {
    throw new RequestError(
      413,
      `${name}: ${width}x${height} pixels (${((width * height) / 1e6).toFixed(1)} MP) ` +
        `is over the inspector's limit of ${(max / 1e6).toFixed(1)} MP; downscale it first`,
    );
  }
}

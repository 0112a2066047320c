/// <reference lib="dom" />
import { ImageInput, RawImage } from '../image/types';
import { ImageSource } from '../model/platform';

/**
 * What the browser API accepts as an image.
 *  - Encoded bytes (Uint8Array, ArrayBuffer, Blob, File) go through our own JPEG/PNG decoders,
 *    so the pixels equal Node's and Pillow's.
 *  - ImageData, <img>, <canvas>, ImageBitmap, OffscreenCanvas and <video> are already decoded
 *    by the browser: those pixels are whatever the browser's decoder (and its colour
 *    management) made of the file, so scores may differ slightly from Node's for the same file.
 */
export type BrowserImage =
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ImageData
  | RawImage
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | ImageBitmap
  | OffscreenCanvas;

function isRaw(x: object): x is RawImage {
  return 'data' in x && 'width' in x && 'height' in x && 'channels' in x;
}

function drawable(x: object): x is CanvasImageSource & { width: number; height: number } {
  const g = globalThis as Record<string, unknown>;
  return ['HTMLImageElement', 'HTMLCanvasElement', 'HTMLVideoElement', 'ImageBitmap', 'OffscreenCanvas'].some(
    (name) => typeof g[name] === 'function' && x instanceof (g[name] as new () => object),
  );
}

function sizeOf(x: CanvasImageSource & { width: number; height: number }): [number, number] {
  if (typeof HTMLImageElement !== 'undefined' && x instanceof HTMLImageElement) {
    if (!x.complete || x.naturalWidth === 0) throw new Error('image element has not finished loading (await img.decode() first)');
    return [x.naturalWidth, x.naturalHeight];
  }
  if (typeof HTMLVideoElement !== 'undefined' && x instanceof HTMLVideoElement) return [x.videoWidth, x.videoHeight];
  return [x.width, x.height];
}

/** Pixels of something the browser has decoded, read back through a 2-D canvas. */
function pixelsOf(x: CanvasImageSource & { width: number; height: number }): RawImage {
  const [width, height] = sizeOf(x);
  if (!width || !height) throw new Error('image has no pixels (0 x 0)');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('cannot get a 2-D canvas context to read the image pixels');
  ctx.drawImage(x, 0, 0);
  const data = ctx.getImageData(0, 0, width, height);
  return { data: data.data, width, height, channels: 4 };
}

/** A browser image as the core's ImageInput (encoded bytes or raw RGBA pixels). */
export async function toImageInput(image: BrowserImage | ImageSource): Promise<ImageInput> {
  if (typeof image === 'string')
    throw new Error(`image "${image}": a file path is a Node image source; in the browser pass bytes, a Blob/File or an image element`);
  if (image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  if (typeof Blob !== 'undefined' && image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) {
    return { data: image.data, width: image.width, height: image.height, channels: 4 };
  }
  if (typeof image === 'object' && image !== null) {
    if (isRaw(image)) return image;
    if (drawable(image)) return pixelsOf(image);
  }
  throw new Error(
    'unsupported image: pass encoded bytes (Uint8Array, ArrayBuffer, Blob, File), ImageData, ' +
      'an <img>, <canvas>, <video>, ImageBitmap or OffscreenCanvas',
  );
}

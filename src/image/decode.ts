import { applyOrientation, orientationOf } from './exif';
import { decodeJpeg } from './jpeg';
import { DEFAULT_MAX_PIXELS, pixelLimitProblem } from './limits';
import { decodeGifFirstFrame } from './gif';
import { decodePng } from './png';
import { decodeWebp } from './webp';
import { CHANNELS, PilMode, toRgb } from './rgb';
import { ImageDecodeError, ImageInput, RawImage, RgbImage } from './types';

/**
 * Any input to an upright RGB image, as transformers' load_image does it: open (JPEG or PNG),
 * apply the EXIF orientation (ImageOps.exif_transpose), convert('RGB').
 * Every failure is an ImageDecodeError naming the file (or `name`, or "image buffer").
 */

/** Bytes read first from a file, enough to recognise every format sniffFormat knows. */
export const HEADER_BYTES = 16;

export interface DecodeOptions {
  /**
   * Apply the EXIF / XMP orientation (default true, as load_image does). false gives what
   * `Image.open(f).convert('RGB')` gives, e.g. what reference/make_image_cases.py feeds the processor.
   */
  exifTranspose?: boolean;
  /**
   * Images with more pixels than this are refused from their header, before anything is
   * allocated (default: $BLIP_ITM_MAX_PIXELS, else Pillow's 2 × MAX_IMAGE_PIXELS = 178,956,970).
   */
  maxPixels?: number;
}

/** The pixel limit: the option, else $BLIP_ITM_MAX_PIXELS, else Pillow's. Throws on a bad value. */
export function resolveMaxPixels(option?: number): number {
  // Node only: a browser page has no environment (and no `process`).
  const fromEnv = typeof process === 'undefined' ? undefined : process.env?.BLIP_ITM_MAX_PIXELS;
  if (option !== undefined) {
    if (!Number.isInteger(option) || option < 1) throw new RangeError(`maxPixels must be a positive integer, got ${option}`);
    return option;
  }
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`BLIP_ITM_MAX_PIXELS must be a positive integer, got "${fromEnv}"`);
    return n;
  }
  return DEFAULT_MAX_PIXELS;
}

export function decodeImage(input: ImageInput, name?: string, options: DecodeOptions = {}): RgbImage {
  const exif = options.exifTranspose ?? true;
  const maxPixels = resolveMaxPixels(options.maxPixels);
  if (typeof input === 'string') {
    const source = name ?? input;
    return decodeBytes(readImageFile(input, source), source, exif, maxPixels);
  }
  if (input instanceof Uint8Array) return decodeBytes(input, name ?? 'image buffer', exif, maxPixels);
  if (isRawImage(input)) return decodeRaw(input, name ?? 'raw image');
  throw new ImageDecodeError(name ?? 'image', 'expected a file path, encoded image bytes or a RawImage {data, width, height, channels}');
}

function isRawImage(x: unknown): x is RawImage {
  return typeof x === 'object' && x !== null && 'data' in x && 'width' in x && 'height' in x && 'channels' in x;
}

/**
 * Reads the file of a path input. The core has no file system: the Node entry installs the reader
 * (src/node/image.ts, loaded by every Node module that opens a model or an image), a browser has none.
 */
export type ImageFileReader = (file: string, source: string) => Uint8Array;
let imageFileReader: ImageFileReader | undefined;

export function setImageFileReader(reader: ImageFileReader): void {
  imageFileReader = reader;
}

function readImageFile(file: string, source: string): Uint8Array {
  if (/^https?:\/\//i.test(file)) throw new ImageDecodeError(source, 'URLs are not fetched; download the image and pass the file');
  if (!imageFileReader) throw new ImageDecodeError(source, 'file paths are read only in Node; pass the encoded bytes');
  return imageFileReader(file, source);
}

/** The formats decodeImage reads. */
export type DecodedFormat = 'JPEG' | 'PNG' | 'WebP' | 'GIF';
const DECODED: readonly string[] = ['JPEG', 'PNG', 'WebP', 'GIF'];

/** Refuses anything but JPEG, PNG, WebP and GIF, naming what it is when known; returns the format. */
export function checkFormat(bytes: Uint8Array, source: string): DecodedFormat {
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new ImageDecodeError(source, `not a JPEG, PNG, WebP or GIF image (unrecognised format, first bytes ${describeStart(bytes)})`);
  }
  if (!DECODED.includes(format)) {
    throw new ImageDecodeError(source, `unsupported image format ${format}; only JPEG, PNG, WebP and GIF are supported (convert it first)`);
  }
  return format as DecodedFormat;
}

/** Names the container format from its magic bytes; null when unrecognised. */
export function sniffFormat(b: Uint8Array): string | null {
  const s = (start: number, text: string) => {
    if (b.length < start + text.length) return false;
    for (let i = 0; i < text.length; i++) if (b[start + i] !== text.charCodeAt(i)) return false;
    return true;
  };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (s(0, '\x89PNG\r\n\x1a\n')) return 'PNG';
  if (s(0, 'GIF87a') || s(0, 'GIF89a')) return 'GIF';
  if (s(0, 'RIFF') && s(8, 'WEBP')) return 'WebP';
  if (s(0, 'BM')) return 'BMP';
  if (s(0, 'II*\x00') || s(0, 'MM\x00*')) return 'TIFF';
  if (s(4, 'ftyp')) {
    if (s(8, 'avif') || s(8, 'avis')) return 'AVIF';
    if (s(8, 'heic') || s(8, 'heix') || s(8, 'mif1') || s(8, 'msf1') || s(8, 'hevc')) return 'HEIF/HEIC';
    return 'ISO media (ftyp)';
  }
  if (s(0, '\x00\x00\x00\x0cjP  ') || (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51))
    return 'JPEG 2000';
  if ((b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) || s(0, '\x00\x00\x00\x0cJXL ')) return 'JPEG XL';
  if (s(0, '\x00\x00\x01\x00')) return 'ICO';
  if (s(0, '8BPS')) return 'PSD';
  if (s(0, 'qoif')) return 'QOI';
  if (b.length >= 2 && b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x37) return 'PNM';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xd8) return 'JPEG';
  return null;
}

function describeStart(b: Uint8Array): string {
  return Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function decodeBytes(bytes: Uint8Array, source: string, exif: boolean, maxPixels: number): RgbImage {
  if (bytes.length === 0) throw new ImageDecodeError(source, 'empty image data (0 bytes)');
  const format = checkFormat(bytes, source);
  try {
    if (format === 'WebP') return decodeWebp(bytes, source, maxPixels); // no EXIF orientation read (Pillow's WebP EXIF is rare)
    if (format === 'GIF') return decodeGifFirstFrame(bytes, source, maxPixels);
    if (format === 'JPEG') {
      const j = decodeJpeg(bytes, maxPixels);
      checkSize(j.width, j.height, source, maxPixels);
      const rgb = toRgb(j.data, j.width, j.height, j.mode);
      return exif ? applyOrientation(rgb, orientationOf(j.exif, j.xmp)) : rgb;
    }
    const p = decodePng(bytes, maxPixels);
    checkSize(p.image.width, p.image.height, source, maxPixels);
    return exif ? applyOrientation(p.image, orientationOf(p.exif, p.xmp)) : p.image;
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    const msg = (e as Error).message ?? String(e);
    throw new ImageDecodeError(source, e instanceof RangeError ? `${format} image too large to decode (${msg})` : msg);
  }
}

function checkSize(width: number, height: number, source: string, maxPixels: number): void {
  if (width < 1 || height < 1) throw new ImageDecodeError(source, `zero-size image (${width}x${height})`);
  if (width * height > maxPixels) throw new ImageDecodeError(source, pixelLimitProblem(width, height, maxPixels));
}

const RAW_MODES: Record<number, PilMode> = { 1: 'L', 2: 'LA', 3: 'RGB', 4: 'RGBA' };

function decodeRaw(img: RawImage, source: string): RgbImage {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new ImageDecodeError(source, `bad raw image size ${width}x${height}`);
  }
  if (width === 0 || height === 0) throw new ImageDecodeError(source, `zero-size image (${width}x${height})`);
  const mode = RAW_MODES[channels];
  if (!mode) throw new ImageDecodeError(source, `raw image channels must be 1, 2, 3 or 4, got ${channels}`);
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new ImageDecodeError(source, 'raw image data must be a Uint8Array or Uint8ClampedArray of 8-bit samples');
  }
  const need = width * height * CHANNELS[mode];
  if (data.length !== need) {
    throw new ImageDecodeError(source, `raw image data has ${data.length} bytes; ${width}x${height}x${channels} needs ${need}`);
  }
  return toRgb(data, width, height, mode);
}

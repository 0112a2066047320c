import { decodeImage, resolveMaxPixels } from './decode';
import { RESAMPLE, isSupportedResample, resizeRgb } from './resize';
import { ImageInput, RgbImage } from './types';

/**
 * transformers' BlipImageProcessor (PIL backend) for the options BLIP checkpoints use:
 * convert to RGB, resize to size.height × size.width with Pillow (bicubic), rescale, normalise,
 * channels first. The float arithmetic follows numpy's: rescale in float64 then cast to float32
 * (image_transforms.rescale), then (x - mean) / std in float32 with mean/std cast to float32
 * (image_transforms.normalize). Math.fround after each step gives the same bits, because
 * rounding a double result of a float32 +, -, *, / to float32 equals the float32 operation.
 * Images are always converted to RGB (the model needs 3 channels): do_convert_rgb = false is
 * accepted and recorded but changes nothing.
 */

export interface ImageProcessorConfig {
  width: number;
  height: number;
  doResize: boolean;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: [number, number, number];
  std: [number, number, number];
  doConvertRgb: boolean;
  resample: number;
}

// BlipImageProcessor's class defaults (OPENAI_CLIP_MEAN / _STD, 384×384, bicubic).
const DEFAULTS: ImageProcessorConfig = {
  width: 384,
  height: 384,
  doResize: true,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  doConvertRgb: true,
  resample: RESAMPLE.BICUBIC,
};

const RESAMPLE_NAMES: Record<number, string> = { 0: 'NEAREST', 1: 'LANCZOS', 2: 'BILINEAR', 3: 'BICUBIC', 4: 'BOX', 5: 'HAMMING' };

function bool(json: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = json[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new Error(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function num(json: Record<string, unknown>, key: string, dflt: number): number {
  const v = json[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function triple(json: Record<string, unknown>, key: string, dflt: [number, number, number]): [number, number, number] {
  const v = json[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return [v[0], v[1], v[2]] as [number, number, number];
  }
  throw new Error(`"${key}" must be a number or 3 numbers, got ${JSON.stringify(v)}`);
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new Error(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function parseSize(v: unknown): { width: number; height: number } {
  if (v === undefined || v === null) return { width: DEFAULTS.width, height: DEFAULTS.height };
  // An int is a square size (get_size_dict with default_to_square=True).
  if (typeof v === 'number') {
    const s = positiveInt(v, '"size"');
    return { width: s, height: s };
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if ('height' in o || 'width' in o) {
      return { height: positiveInt(o.height, '"size.height"'), width: positiveInt(o.width, '"size.width"') };
    }
    throw new Error(`"size" ${JSON.stringify(v)} is not supported: BLIP resizes to {"height", "width"}`);
  }
  throw new Error(`"size" must be {"height": H, "width": W} or an integer, got ${JSON.stringify(v)}`);
}

export interface ProcessorOptions {
  /** Square output size instead of the configured one. */
  size?: number;
  /** Apply EXIF orientation when decoding (default true, load_image semantics). */
  exifTranspose?: boolean;
  /** Refuse images with more pixels than this, from their header (see DecodeOptions.maxPixels). */
  maxPixels?: number;
}

export class ImageProcessor {
  readonly config: ImageProcessorConfig;
  readonly exifTranspose: boolean;
  readonly maxPixels: number | undefined;

  private constructor(config: ImageProcessorConfig, exifTranspose = true, maxPixels?: number) {
    this.maxPixels = maxPixels;
    this.config = Object.freeze({ ...config, mean: [...config.mean], std: [...config.std] }) as ImageProcessorConfig;
    this.exifTranspose = exifTranspose;
  }

  /** From the parsed preprocessor_config.json; missing keys take BlipImageProcessor's defaults. */
  static fromConfig(json: object, overrides?: ProcessorOptions): ImageProcessor {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('image processor config must be a JSON object');
    const j = json as Record<string, unknown>;
    const { width, height } = parseSize(j.size);
    const resample = num(j, 'resample', DEFAULTS.resample);
    if (!isSupportedResample(resample)) {
      const name = RESAMPLE_NAMES[resample] ?? String(resample);
      throw new Error(
        `"resample": ${name} (${resample}) is not implemented; supported: 3 BICUBIC (BLIP's), 2 BILINEAR, 1 LANCZOS, 4 BOX, 5 HAMMING`,
      );
    }
    const config: ImageProcessorConfig = {
      width,
      height,
      doResize: bool(j, 'do_resize', DEFAULTS.doResize),
      doRescale: bool(j, 'do_rescale', DEFAULTS.doRescale),
      rescaleFactor: num(j, 'rescale_factor', DEFAULTS.rescaleFactor),
      doNormalize: bool(j, 'do_normalize', DEFAULTS.doNormalize),
      mean: triple(j, 'image_mean', DEFAULTS.mean),
      std: triple(j, 'image_std', DEFAULTS.std),
      doConvertRgb: bool(j, 'do_convert_rgb', DEFAULTS.doConvertRgb),
      resample,
    };
    if (config.std.some((s) => s === 0)) throw new Error('"image_std" contains 0');
    if (overrides?.size !== undefined) {
      const s = positiveInt(overrides.size, 'size override');
      config.width = s;
      config.height = s;
    }
    if (overrides?.maxPixels !== undefined) resolveMaxPixels(overrides.maxPixels); // a bad limit fails here, not per image
    return new ImageProcessor(config, overrides?.exifTranspose ?? true, overrides?.maxPixels);
  }

  /** To the configured size, uint8 (Pillow's resize). Images already that size are copied. */
  resize(img: RgbImage): RgbImage {
    return resizeRgb(img, this.config.width, this.config.height, this.config.resample);
  }

  /** [3, H, W] float32: rescaled and normalised exactly as transformers computes it. */
  toPixelValues(resized: RgbImage): Float32Array {
    const { width: w, height: h, data } = resized;
    const n = w * h;
    if (data.length !== n * 3) throw new Error(`toPixelValues: ${data.length} bytes do not make a ${w}x${h} RGB image`);
    const { doRescale, doNormalize, rescaleFactor } = this.config;
    const out = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) {
      // A table per channel: 256 possible inputs.
      const lut = new Float32Array(256);
      const m = Math.fround(this.config.mean[c]);
      const s = Math.fround(this.config.std[c]);
      for (let v = 0; v < 256; v++) {
        let x = doRescale ? Math.fround(v * rescaleFactor) : v;
        if (doNormalize) x = Math.fround(Math.fround(x - m) / s);
        lut[v] = x;
      }
      const base = c * n;
      for (let i = 0; i < n; i++) out[base + i] = lut[data[i * 3 + c]];
    }
    return out;
  }

  /**
   * A batch: decode, resize (when do_resize), pixel values. Without resizing, images of
   * different sizes are zero-padded at the bottom/right to the largest, as transformers' do_pad.
   */
  preprocess(images: ImageInput[]): { pixelValues: Float32Array; shape: [number, 3, number, number]; resized: RgbImage[] } {
    if (!Array.isArray(images) || images.length === 0) throw new Error('preprocess: no images given');
    const resized = images.map((img, i) => {
      const name = typeof img === 'string' || images.length === 1 ? undefined : `image ${i} (${describe(img)})`;
      const rgb = decodeImage(img, name, { exifTranspose: this.exifTranspose, maxPixels: this.maxPixels });
      return this.config.doResize ? this.resize(rgb) : rgb;
    });
    const H = Math.max(...resized.map((r) => r.height));
    const W = Math.max(...resized.map((r) => r.width));
    const per = 3 * H * W;
    const pixelValues = new Float32Array(resized.length * per);
    resized.forEach((r, i) => {
      const pv = this.toPixelValues(r);
      if (r.width === W && r.height === H) {
        pixelValues.set(pv, i * per);
        return;
      }
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < r.height; y++) {
          pixelValues.set(pv.subarray((c * r.height + y) * r.width, (c * r.height + y + 1) * r.width), i * per + (c * H + y) * W);
        }
      }
    });
    return { pixelValues, shape: [resized.length, 3, H, W], resized };
  }
}

function describe(img: ImageInput): string {
  return img instanceof Uint8Array ? 'buffer' : 'raw pixels';
}

export interface TensorOut {
  dtype: 'uint8' | 'float32';
  shape: number[];
  data: Uint8Array | Float32Array;
}

/** For `blip-itm preprocess`: resized.{i} uint8 [H,W,3] and pixel_values.{i} float32 [3,H,W]. */
export function preprocessToTensors(proc: ImageProcessor, inputs: ImageInput[]): Map<string, TensorOut> {
  const out = new Map<string, TensorOut>();
  inputs.forEach((input, i) => {
    const { resized, pixelValues, shape } = proc.preprocess([input]);
    const r = resized[0];
    out.set(`resized.${i}`, { dtype: 'uint8', shape: [r.height, r.width, 3], data: r.data });
    out.set(`pixel_values.${i}`, { dtype: 'float32', shape: [3, shape[2], shape[3]], data: pixelValues });
  });
  return out;
}

import { RgbImage } from './types';

/**
 * Pillow's `Image.resize` for 8-bit RGB images (libImaging/Resample.c), reproduced bit for bit:
 * separable convolution, horizontal pass first, a pass skipped when its dimension is unchanged,
 * coefficients computed in double, normalised to sum 1, then turned into fixed point with
 * PRECISION_BITS = 22 and accumulated in integers from 1 << 21, clipped to 0..255.
 * transformers calls it with reducing_gap=None, so there is no pre-reduction step.
 */

/** Pillow's resampling filter numbers (PIL.Image.Resampling). NEAREST (0) takes another code path. */
export const RESAMPLE = { LANCZOS: 1, BILINEAR: 2, BICUBIC: 3, BOX: 4, HAMMING: 5 } as const;

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const FILTERS: Record<number, Filter> = {
  [RESAMPLE.BOX]: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  [RESAMPLE.BILINEAR]: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  [RESAMPLE.HAMMING]: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const t = a * Math.PI;
      // Pillow writes 0.54f + 0.46f: float32 constants promoted to double.
      return (Math.sin(t) / t) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(t));
    },
  },
  [RESAMPLE.BICUBIC]: {
    support: 2,
    fn: (x) => {
      // Keys' cubic with a = -0.5, in the same operation order as Pillow.
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  [RESAMPLE.LANCZOS]: {
    support: 3,
    fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  const t = x * Math.PI;
  return Math.sin(t) / t;
}

export function isSupportedResample(resample: number): boolean {
  return FILTERS[resample] !== undefined;
}

const PRECISION_BITS = 32 - 8 - 2;
const ROUND_HALF = 1 << (PRECISION_BITS - 1);
const FIXED_ONE = 1 << PRECISION_BITS;

/** Per output pixel: first input index, tap count, and `ksize` fixed-point taps. */
export interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for a full-image box (0..inSize). */
export function precomputeCoeffs(inSize: number, outSize: number, resample: number): Coeffs {
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`unsupported resample filter ${resample}`);
  // Pillow keeps the box as float32; 0 and an integer size are exact in float32.
  const scale = (Math.fround(inSize) - 0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = 0 + (xx + 0.5) * scale;
    // C's (int) truncates toward zero; the clamp to 0 afterwards makes that equal to Pillow.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      // (int)(±0.5 + k * 2^22): round half away from zero by truncation, as Pillow does.
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * FIXED_ONE) : Math.trunc(0.5 + k * FIXED_ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** clip8: the accumulator's integer part, clamped to a byte. */
function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

// The accumulators stay within int32 (Pillow accumulates in a C int): taps sum to 1 << 22 and
// their positive parts to well under 2 << 22, so Math.imul / `| 0` lose nothing and keep V8 on
// integer arithmetic.

/** Horizontal pass over rows [rowStart, rowStart + rows) of `src` (width inW, 3 channels). */
function resampleHorizontal(src: Uint8Array, inW: number, rowStart: number, rows: number, outW: number, c: Coeffs): Uint8Array {
  const out = new Uint8Array(outW * rows * 3);
  const { ksize, bounds, kk } = c;
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + rowStart) * inW * 3;
    let o = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let s0 = ROUND_HALF,
        s1 = ROUND_HALF,
        s2 = ROUND_HALF;
      let p = rowIn + bounds[xx * 2] * 3;
      for (let x = 0; x < n; x++, p += 3) {
        const k = kk[kb + x];
        s0 = (s0 + Math.imul(src[p], k)) | 0;
        s1 = (s1 + Math.imul(src[p + 1], k)) | 0;
        s2 = (s2 + Math.imul(src[p + 2], k)) | 0;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
  return out;
}

/** Vertical pass; `bounds` are rows of the source, `src` starts at row `rowOffset`. */
function resampleVertical(src: Uint8Array, width: number, outH: number, c: Coeffs, rowOffset: number): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(stride * outH);
  const { ksize, bounds, kk } = c;
  const k = new Int32Array(ksize);
  for (let yy = 0; yy < outH; yy++) {
    const base = (bounds[yy * 2] - rowOffset) * stride;
    const n = bounds[yy * 2 + 1];
    for (let y = 0; y < n; y++) k[y] = kk[yy * ksize + y];
    const o = yy * stride;
    // Four samples at a time, accumulated in registers down the taps.
    let i = 0;
    for (; i + 3 < stride; i += 4) {
      let s0 = ROUND_HALF,
        s1 = ROUND_HALF,
        s2 = ROUND_HALF,
        s3 = ROUND_HALF;
      for (let y = 0, p = base + i; y < n; y++, p += stride) {
        const w = k[y];
        s0 = (s0 + Math.imul(src[p], w)) | 0;
        s1 = (s1 + Math.imul(src[p + 1], w)) | 0;
        s2 = (s2 + Math.imul(src[p + 2], w)) | 0;
        s3 = (s3 + Math.imul(src[p + 3], w)) | 0;
      }
      out[o + i] = clip8(s0);
      out[o + i + 1] = clip8(s1);
      out[o + i + 2] = clip8(s2);
      out[o + i + 3] = clip8(s3);
    }
    for (; i < stride; i++) {
      let s = ROUND_HALF;
      for (let y = 0, p = base + i; y < n; y++, p += stride) s = (s + Math.imul(src[p], k[y])) | 0;
      out[o + i] = clip8(s);
    }
  }
  return out;
}

/** Resize like Pillow's `img.resize((width, height), resample)`; bicubic (3) by default. */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  return resizeRgb(img, width, height, RESAMPLE.BICUBIC);
}

export function resizeRgb(img: RgbImage, width: number, height: number, resample: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  if (img.width < 1 || img.height < 1) throw new Error(`resize: empty ${img.width}x${img.height} image`);
  if (img.data.length !== img.width * img.height * 3) {
    throw new Error(`resize: ${img.data.length} bytes do not make a ${img.width}x${img.height} RGB image`);
  }
  const needH = width !== img.width;
  const needV = height !== img.height;
  if (!needH && !needV) return { data: img.data.slice(), width, height };
  const ch = precomputeCoeffs(img.width, width, resample);
  const cv = precomputeCoeffs(img.height, height, resample);
  // Only the source rows some output row reads go through the horizontal pass (Pillow's ybox).
  const first = cv.bounds[0];
  const last = cv.bounds[height * 2 - 2] + cv.bounds[height * 2 - 1];
  let data = img.data;
  let rowOffset = 0;
  if (needH) {
    if (needV) {
      data = resampleHorizontal(img.data, img.width, first, last - first, width, ch);
      rowOffset = first;
    } else {
      data = resampleHorizontal(img.data, img.width, 0, img.height, width, ch);
    }
  }
  if (needV) data = resampleVertical(data, width, height, cv, rowOffset);
  return { data, width, height };
}

/**
 * Smooth resizing of a small row-major float map (a patch grid) to an image size.
 *
 * Sample positions use half-pixel centres (PyTorch's align_corners=False, skimage's resize):
 * output pixel x reads source coordinate (x + 0.5) * inW / outW - 0.5, so each grid cell's value
 * lands exactly at the centre of the image patch it came from. Past the outermost centres the
 * edge values are held (clamped), rather than faded to zero as skimage's mode='constant' does.
 */

export type UpsampleMode = 'bilinear' | 'bicubic';

export interface FloatMap {
  data: Float32Array;
  width: number;
  height: number;
}

/** Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom, as Pillow/OpenCV bicubic). */
function cubic(t: number): number {
  const a = -0.5;
  const x = Math.abs(t);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((x - 5) * x + 8) * x * a - 4 * a;
  return 0;
}

/** Per output index along one axis: source indices (clamped) and weights. */
function taps(inSize: number, outSize: number, mode: UpsampleMode): { idx: Int32Array; w: Float32Array; k: number } {
  const k = mode === 'bicubic' ? 4 : 2;
  const idx = new Int32Array(outSize * k);
  const w = new Float32Array(outSize * k);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    // Clamp the coordinate itself so the border band is flat (no cubic overshoot at the edges).
    const u = Math.min(inSize - 1, Math.max(0, (o + 0.5) * scale - 0.5));
    const base = Math.floor(u) - (k === 4 ? 1 : 0);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const i = base + j;
      const weight = k === 4 ? cubic(u - i) : 1 - Math.abs(u - i);
      idx[o * k + j] = Math.min(inSize - 1, Math.max(0, i));
      w[o * k + j] = weight;
      sum += weight;
    }
    for (let j = 0; j < k; j++) w[o * k + j] /= sum;
  }
  return { idx, w, k };
}

/** Resizes a float map to outWidth x outHeight (separable: rows, then columns). */
export function upsampleMap(map: FloatMap, outWidth: number, outHeight: number, mode: UpsampleMode = 'bicubic'): FloatMap {
  const { data, width, height } = map;
  if (data.length !== width * height) throw new Error(`upsample: ${data.length} values do not make a ${width}x${height} map`);
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth < 1 || outHeight < 1) {
    throw new Error(`upsample: target size must be positive integers, got ${outWidth}x${outHeight}`);
  }
  const tx = taps(width, outWidth, mode);
  const ty = taps(height, outHeight, mode);
  const rows = new Float32Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      let s = 0;
      for (let j = 0; j < tx.k; j++) s += data[y * width + tx.idx[x * tx.k + j]] * tx.w[x * tx.k + j];
      rows[y * outWidth + x] = s;
    }
  }
  const out = new Float32Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (let j = 0; j < ty.k; j++) {
      const src = ty.idx[y * ty.k + j] * outWidth;
      const wt = ty.w[y * ty.k + j];
      for (let x = 0; x < outWidth; x++) out[y * outWidth + x] += rows[src + x] * wt;
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}

/** scipy.ndimage's 'reflect' boundary (d c b a | a b c d | d c b a) for any offset. */
function reflect(i: number, n: number): number {
  const period = 2 * n;
  let m = ((i % period) + period) % period;
  if (m >= n) m = period - 1 - m;
  return m;
}

/**
 * Gaussian blur as scipy.ndimage.gaussian_filter (truncate 4, 'reflect' borders), separable.
 * LAVIS's getAttMap smooths the upsampled map this way with sigma = 0.02 * the longer side.
 */
export function gaussianBlur(map: FloatMap, sigma: number): FloatMap {
  if (!(sigma > 0)) return { ...map, data: map.data.slice() };
  const radius = Math.floor(4 * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-0.5 * (i / sigma) ** 2);
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  // Blur the rows, transpose, blur the rows again (the columns), transpose back.
  const rows = blurRows(map.data, map.width, map.height, kernel, radius);
  const cols = blurRows(transpose(rows, map.width, map.height), map.height, map.width, kernel, radius);
  return { data: transpose(cols, map.height, map.width), width: map.width, height: map.height };
}

function blurRows(src: Float32Array, width: number, height: number, kernel: Float64Array, radius: number): Float32Array {
  const dst = new Float32Array(src.length);
  const line = new Float64Array(width + 2 * radius);
  const index = Int32Array.from({ length: line.length }, (_, i) => reflect(i - radius, width));
  const taps = kernel.length;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < line.length; i++) line[i] = src[row + index[i]];
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = 0; k < taps; k++) s += line[x + k] * kernel[k];
      dst[row + x] = s;
    }
  }
  return dst;
}

function transpose(src: Float32Array, width: number, height: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) dst[x * height + y] = src[y * width + x];
  return dst;
}

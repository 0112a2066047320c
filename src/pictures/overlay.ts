import { RgbImage } from '../image';
import { ColormapName, getColormap, colourIndex } from './colormap';
import { FloatMap, UpsampleMode, gaussianBlur, upsampleMap } from './upsample';

/**
 * A grid map drawn over its image, as LAVIS's getAttMap (the BLIP demo's picture) does it:
 * min-max normalise, upsample to the image (bicubic, overshoot clipped), Gaussian blur with sigma = 2% of the longer
 * side, normalise again, colour with jet, and blend with a per-pixel opacity alpha * m^0.7, so
 * where the map is low the photograph shows through untouched.
 */
export interface OverlayOptions {
  /** Opacity of the colour where the map is at its maximum, 0..1. Default 0.5; 1 is exactly LAVIS's blend. */
  alpha?: number;
  /** Opacity grows as m^gamma. Default 0.7 as LAVIS; 0 gives a uniform blend (the OpenCV-style overlay). */
  gamma?: number;
  /** Default 'jet'. */
  colormap?: ColormapName;
  /** Default true, as LAVIS's getAttMap(blur=True). */
  blur?: boolean;
  /** Default 'bicubic' (skimage order=3 in LAVIS). */
  upsample?: UpsampleMode;
}

/** Heat maps are computed at most this many pixels on the longer side, then resized bilinearly: the map is smooth, so this changes nothing visible and keeps big photos fast. */
const WORK_SIDE = 256;
const LEVELS = 1024;

/**
 * Min-max normalisation to [0, 1], per map (every map uses its own full colour range, as LAVIS
 * does; maps are therefore not comparable in absolute terms). A constant map (all zeros
 * included, e.g. Grad-CAM where no gradient is positive) becomes all zeros, never NaN.
 */
export function normaliseMap(data: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(data.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < data.length; i++) out[i] = Number.isFinite(data[i]) ? (data[i] - lo) / range : 0;
  return out;
}

/** The grid map as a [0, 1] heat map of width x height pixels (normalised, upsampled, blurred, normalised). */
export function heatMap(map: FloatMap, width: number, height: number, opts: OverlayOptions = {}): FloatMap {
  const scale = Math.min(1, WORK_SIDE / Math.max(width, height));
  const ww = Math.max(1, Math.round(width * scale));
  const wh = Math.max(1, Math.round(height * scale));
  let m = upsampleMap({ ...map, data: normaliseMap(map.data) }, ww, wh, opts.upsample ?? 'bicubic');
  // Clip bicubic overshoot to the data's range: its negative lobes would otherwise become the
  // minimum after renormalising and tint areas where the map is exactly zero.
  m.data.forEach((v, i) => {
    m.data[i] = Math.min(1, Math.max(0, v));
  });
  if (opts.blur !== false) m = gaussianBlur(m, 0.02 * Math.max(ww, wh));
  m = { ...m, data: normaliseMap(m.data) };
  if (ww !== width || wh !== height) m = upsampleMap(m, width, height, 'bilinear');
  return m;
}

/** Draws the grid map (row-major, grid x grid or any w x h) over the image; returns a new image of the same size. */
export function overlayMap(image: RgbImage, map: FloatMap, opts: OverlayOptions = {}): RgbImage {
  const alpha = opts.alpha ?? 0.5;
  const gamma = opts.gamma ?? 0.7;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`overlay: alpha must be in [0, 1], got ${alpha}`);
  if (!(gamma >= 0)) throw new Error(`overlay: gamma must be >= 0, got ${gamma}`);
  const { width, height } = image;
  const heat = heatMap(map, width, height, opts).data;
  const { lut } = getColormap(opts.colormap ?? 'jet');
  // Opacity and colour per heat level (LEVELS steps: finer than 8-bit output can show), so the
  // per-pixel loop is a lookup and a blend.
  const opacity = new Float32Array(LEVELS + 1);
  const colour = new Float32Array((LEVELS + 1) * 3);
  for (let q = 0; q <= LEVELS; q++) {
    const m = q / LEVELS;
    opacity[q] = alpha * (gamma === 0 ? 1 : m ** gamma);
    const c = colourIndex(m) * 3;
    for (let ch = 0; ch < 3; ch++) colour[q * 3 + ch] = 255 * lut[c + ch];
  }
  const src = image.data;
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const h = heat[p];
    const q = h > 0 ? (h >= 1 ? LEVELS : Math.round(h * LEVELS)) : 0;
    const a = opacity[q];
    for (let ch = 0, i = p * 3; ch < 3; ch++, i++) {
      const v = src[i] + a * (colour[q * 3 + ch] - src[i]);
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { data: out, width, height };
}

/** The map alone, colour-mapped (no photograph), e.g. for attention matrices. */
export function colourise(map: FloatMap, colormap: ColormapName = 'jet', normalise = true): RgbImage {
  const { lut } = getColormap(colormap);
  const values = normalise ? normaliseMap(map.data) : map.data;
  const out = new Uint8Array(values.length * 3);
  for (let p = 0; p < values.length; p++) {
    const c = colourIndex(values[p]) * 3;
    for (let ch = 0; ch < 3; ch++) out[p * 3 + ch] = Math.round(255 * lut[c + ch]);
  }
  return { data: out, width: map.width, height: map.height };
}

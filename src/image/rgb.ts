import { RgbImage } from './types';

/**
 * Pillow's `convert('RGB')` (libImaging/Convert.c), which transformers 5.17's convert_to_rgb and
 * load_image call. It does NOT composite alpha on a background: RGBA→RGB and LA→RGB simply
 * drop the alpha channel. (horse.png cannot tell the two apart: its 12 partly transparent
 * pixels are white already. The RGBA / LA / palette-with-alpha cases in images-extra can, and
 * match Pillow only with the alpha dropped.)
 */
export type PilMode = 'L' | 'LA' | 'RGB' | 'RGBA' | 'CMYK';

export const CHANNELS: Record<PilMode, number> = { L: 1, LA: 2, RGB: 3, RGBA: 4, CMYK: 4 };

export function toRgb(data: Uint8Array | Uint8ClampedArray, width: number, height: number, mode: PilMode): RgbImage {
  const n = width * height;
  const ch = CHANNELS[mode];
  if (data.length < n * ch) {
    throw new Error(`${data.length} bytes are too few for a ${width}x${height} ${mode} image (${n * ch} needed)`);
  }
  if (mode === 'RGB') return { data: Uint8Array.from(data.subarray(0, n * 3)), width, height };
  const out = new Uint8Array(n * 3);
  if (mode === 'L' || mode === 'LA') {
    // l2rgb / la2rgb: the gray value replicated.
    for (let i = 0, s = 0; i < n; i++, s += ch) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[s];
  } else if (mode === 'RGBA') {
    for (let i = 0, s = 0; i < n; i++, s += 4) {
      out[i * 3] = data[s];
      out[i * 3 + 1] = data[s + 1];
      out[i * 3 + 2] = data[s + 2];
    }
  } else {
    // cmyk2rgb: nk = 255 - K; each channel nk - MULDIV255(C, nk), MULDIV255 rounding as Pillow.
    for (let i = 0, s = 0; i < n; i++, s += 4) {
      const nk = 255 - data[s + 3];
      for (let c = 0; c < 3; c++) {
        const t = data[s + c] * nk + 128;
        const v = nk - (((t >> 8) + t) >> 8);
        out[i * 3 + c] = v < 0 ? 0 : v;
      }
    }
  }
  return { data: out, width, height };
}

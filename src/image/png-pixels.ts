import { RgbImage } from './types';

/**
 * PNG image data (inflated) → RGB as Pillow opens it and `convert('RGB')` converts it:
 *  - gray 1/2/4-bit scaled to 0..255 (×255, ×85, ×17); 8-bit as is; 16-bit is Pillow mode
 *    "I;16", whose RGB conversion clips to 255 (a 16-bit gray PNG mostly turns white there, and so here);
 *  - 16-bit RGB / RGBA / gray+alpha keep the high byte of each sample (rawmodes "RGB;16B", "LA;16B");
 *  - alpha and tRNS transparency are dropped, not composited: convert('RGB') ignores them;
 *  - palette indices past the PLTE entries are black, as in Pillow.
 */

export interface PngLayout {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

function passes(l: PngLayout): Pass[] {
  if (!l.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, w: l.width, h: l.height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    w: Math.ceil((l.width - x0) / dx),
    h: Math.ceil((l.height - y0) / dy),
  })).filter((p) => p.w > 0 && p.h > 0);
}

function rowBytes(l: PngLayout, w: number): number {
  return Math.ceil((w * CHANNELS[l.colorType] * l.depth) / 8);
}

/** Bytes of filtered image data the header calls for; a Number (it can pass 2^32 for a bomb). */
export function expectedDataSize(l: PngLayout): number {
  let n = 0;
  for (const p of passes(l)) n += p.h * (1 + rowBytes(l, p.w));
  return n;
}

/** Thrown for bad filter bytes; the caller words it. */
export class PngDataError extends Error {}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the row filters of one pass in place; `data` starts at the pass's first filter byte. */
function unfilter(data: Uint8Array, start: number, rows: number, stride: number, bpp: number): void {
  let prev = -1;
  for (let y = 0; y < rows; y++) {
    const f = data[start + y * (stride + 1)];
    const row = start + y * (stride + 1) + 1;
    if (f === 0) {
      prev = row;
      continue;
    }
    if (f > 4) throw new PngDataError(`unknown row filter type ${f} in row ${y}`);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? data[row + i - bpp] : 0;
      const b = prev >= 0 ? data[prev + i] : 0;
      const c = prev >= 0 && i >= bpp ? data[prev + i - bpp] : 0;
      const x = data[row + i];
      if (f === 1) data[row + i] = x + a;
      else if (f === 2) data[row + i] = x + b;
      else if (f === 3) data[row + i] = x + ((a + b) >> 1);
      else data[row + i] = x + paeth(a, b, c);
    }
    prev = row;
  }
}

/**
 * `data`: exactly expectedDataSize(layout) bytes (it is unfiltered in place). `palette`: PLTE
 * entries (RGB triples), for colour type 3.
 */
export function pngToRgb(layout: PngLayout, data: Uint8Array, palette: Uint8Array | null): RgbImage {
  const { width, height, depth, colorType } = layout;
  const channels = CHANNELS[colorType];
  const bpp = Math.max(1, (channels * depth) >> 3);
  const out = new Uint8Array(width * height * 3);
  const pal = new Uint8Array(768); // entries past the palette stay black, as Pillow's palette
  if (palette) pal.set(palette.subarray(0, Math.min(palette.length - (palette.length % 3), 768)));
  const grayScale = depth === 1 ? 255 : depth === 2 ? 85 : depth === 4 ? 17 : 1;
  const mask = (1 << depth) - 1;
  let start = 0;
  for (const p of passes(layout)) {
    const stride = rowBytes(layout, p.w);
    unfilter(data, start, p.h, stride, bpp);
    for (let y = 0; y < p.h; y++) {
      const row = start + y * (stride + 1) + 1;
      const oy = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const o = (oy * width + p.x0 + x * p.dx) * 3;
        let r: number;
        let g: number;
        let b: number;
        if (depth < 8) {
          const bit = x * depth;
          const v = (data[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
          if (colorType === 3) {
            r = pal[v * 3];
            g = pal[v * 3 + 1];
            b = pal[v * 3 + 2];
          } else {
            r = g = b = v * grayScale;
          }
        } else if (depth === 8) {
          const i = row + x * channels;
          if (colorType === 0 || colorType === 4) {
            r = g = b = data[i];
          } else if (colorType === 3) {
            const v = data[i];
            r = pal[v * 3];
            g = pal[v * 3 + 1];
            b = pal[v * 3 + 2];
          } else {
            r = data[i];
            g = data[i + 1];
            b = data[i + 2];
          }
        } else {
          const i = row + x * channels * 2;
          if (colorType === 0) {
            const v = (data[i] << 8) | data[i + 1];
            r = g = b = v > 255 ? 255 : v;
          } else if (colorType === 4) {
            r = g = b = data[i];
          } else {
            r = data[i];
            g = data[i + 2];
            b = data[i + 4];
          }
        }
        out[o] = r;
        out[o + 1] = g;
        out[o + 2] = b;
      }
    }
    start += p.h * (stride + 1);
  }
  return { data: out, width, height };
}

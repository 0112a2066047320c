/**
 * From JPEG coefficients to pixels exactly as libjpeg-turbo does it with its defaults (which
 * Pillow uses): jidctint.c's "islow" integer IDCT, jdsample.c's fancy (triangular) chroma
 * upsampling, jdcolor.c's fixed-point YCbCr→RGB and YCCK→CMYK. libjpeg-turbo's SIMD versions
 * of these are bit-exact with the C code, so matching the C arithmetic matches Pillow.
 */

/** Data libjpeg/Pillow would refuse; the caller adds the file name. */
export class JpegError extends Error {}

export interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  quant: Uint16Array;
  /** Blocks that carry image data (libjpeg's width_in_blocks / height_in_blocks). */
  blocksW: number;
  blocksH: number;
  /** Blocks per row in `coefs` (covers the padding blocks of the last MCU column). */
  stride: number;
  coefs: Int16Array;
  /** Huffman tables of the current scan (owned by jpeg.ts). */
  dcTable: unknown;
  acTable: unknown;
  dcSel: number;
  acSel: number;
  pred: number;
  quantLatched: boolean;
}

const CONST_BITS = 13;
const PASS1_BITS = 2;
const F_0_298 = 2446;
const F_0_390 = 3196;
const F_0_541 = 4433;
const F_0_765 = 6270;
const F_0_899 = 7373;
const F_1_175 = 9633;
const F_1_501 = 12299;
const F_1_847 = 15137;
const F_1_961 = 16069;
const F_2_053 = 16819;
const F_2_562 = 20995;
const F_3_072 = 25172;

/**
 * The IDCT's output clamp: libjpeg indexes a table with (x & 1023), centred at 128, so values
 * far out of range wrap the way they do in C. Built once.
 */
const IDCT_LIMIT = (() => {
  const t = new Uint8Array(1024);
  for (let i = 0; i < 1024; i++) t[i] = i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896;
  return t;
})();

/**
 * jpeg_idct_islow over every data block of a component, into a plane of blocksW*8 × blocksH*8.
 * Math.imul and `| 0` keep V8 on int32 arithmetic; C computes in 64-bit JLONG, which gives the
 * same results whenever the values fit 32 bits, as they do for any image an encoder produced.
 */
function idctComponent(c: Component): Uint8Array {
  const pw = c.blocksW * 8;
  const out = new Uint8Array(pw * c.blocksH * 8);
  const ws = new Int32Array(64);
  // ISLOW_MULT_TYPE is a 16-bit short in libjpeg-turbo.
  const q = new Int32Array(64);
  for (let i = 0; i < 64; i++) q[i] = (c.quant[i] << 16) >> 16;
  const coefs = c.coefs;
  const lim = IDCT_LIMIT;
  const sh1 = CONST_BITS - PASS1_BITS;
  const rnd1 = 1 << (sh1 - 1);
  const sh2 = CONST_BITS + PASS1_BITS + 3;
  const rnd2 = 1 << (sh2 - 1);
  for (let by = 0; by < c.blocksH; by++) {
    for (let bx = 0; bx < c.blocksW; bx++) {
      const b = (by * c.stride + bx) * 64;
      // A block with only a DC coefficient comes out flat; this is what both passes compute
      // for it (each through its all-zero-AC shortcut), done in one step.
      let ac = 1;
      while (ac < 64 && coefs[b + ac] === 0) ac++;
      if (ac === 64) {
        const v = lim[(((Math.imul(coefs[b], q[0]) << PASS1_BITS) + (1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3)) & 1023];
        for (let o = by * 8 * pw + bx * 8, row = 0; row < 8; row++, o += pw) {
          out[o] = v;
          out[o + 1] = v;
          out[o + 2] = v;
          out[o + 3] = v;
          out[o + 4] = v;
          out[o + 5] = v;
          out[o + 6] = v;
          out[o + 7] = v;
        }
        continue;
      }
      // Pass 1: columns from the coefficients into the work array, scaled up by PASS1_BITS.
      for (let col = 0; col < 8; col++) {
        const i = b + col;
        if (
          coefs[i + 8] === 0 &&
          coefs[i + 16] === 0 &&
          coefs[i + 24] === 0 &&
          coefs[i + 32] === 0 &&
          coefs[i + 40] === 0 &&
          coefs[i + 48] === 0 &&
          coefs[i + 56] === 0
        ) {
          const dc = Math.imul(coefs[i], q[col]) << PASS1_BITS;
          ws[col] = dc;
          ws[col + 8] = dc;
          ws[col + 16] = dc;
          ws[col + 24] = dc;
          ws[col + 32] = dc;
          ws[col + 40] = dc;
          ws[col + 48] = dc;
          ws[col + 56] = dc;
          continue;
        }
        let z2 = Math.imul(coefs[i + 16], q[col + 16]);
        let z3 = Math.imul(coefs[i + 48], q[col + 48]);
        let z1 = Math.imul(z2 + z3, F_0_541);
        let tmp2 = (z1 - Math.imul(z3, F_1_847)) | 0;
        let tmp3 = (z1 + Math.imul(z2, F_0_765)) | 0;
        z2 = Math.imul(coefs[i], q[col]);
        z3 = Math.imul(coefs[i + 32], q[col + 32]);
        let tmp0 = (z2 + z3) << CONST_BITS;
        let tmp1 = (z2 - z3) << CONST_BITS;
        const tmp10 = (tmp0 + tmp3) | 0;
        const tmp13 = (tmp0 - tmp3) | 0;
        const tmp11 = (tmp1 + tmp2) | 0;
        const tmp12 = (tmp1 - tmp2) | 0;

        tmp0 = Math.imul(coefs[i + 56], q[col + 56]);
        tmp1 = Math.imul(coefs[i + 40], q[col + 40]);
        tmp2 = Math.imul(coefs[i + 24], q[col + 24]);
        tmp3 = Math.imul(coefs[i + 8], q[col + 8]);
        z1 = (tmp0 + tmp3) | 0;
        z2 = (tmp1 + tmp2) | 0;
        z3 = (tmp0 + tmp2) | 0;
        let z4 = (tmp1 + tmp3) | 0;
        const z5 = Math.imul(z3 + z4, F_1_175);
        tmp0 = Math.imul(tmp0, F_0_298);
        tmp1 = Math.imul(tmp1, F_2_053);
        tmp2 = Math.imul(tmp2, F_3_072);
        tmp3 = Math.imul(tmp3, F_1_501);
        z1 = Math.imul(z1, -F_0_899);
        z2 = Math.imul(z2, -F_2_562);
        z3 = (Math.imul(z3, -F_1_961) + z5) | 0;
        z4 = (Math.imul(z4, -F_0_390) + z5) | 0;
        tmp0 = (tmp0 + z1 + z3) | 0;
        tmp1 = (tmp1 + z2 + z4) | 0;
        tmp2 = (tmp2 + z2 + z3) | 0;
        tmp3 = (tmp3 + z1 + z4) | 0;

        ws[col] = (tmp10 + tmp3 + rnd1) >> sh1;
        ws[56 + col] = (tmp10 - tmp3 + rnd1) >> sh1;
        ws[8 + col] = (tmp11 + tmp2 + rnd1) >> sh1;
        ws[48 + col] = (tmp11 - tmp2 + rnd1) >> sh1;
        ws[16 + col] = (tmp12 + tmp1 + rnd1) >> sh1;
        ws[40 + col] = (tmp12 - tmp1 + rnd1) >> sh1;
        ws[24 + col] = (tmp13 + tmp0 + rnd1) >> sh1;
        ws[32 + col] = (tmp13 - tmp0 + rnd1) >> sh1;
      }
      // Pass 2: rows from the work array to samples, descaled by CONST_BITS + PASS1_BITS + 3.
      for (let row = 0; row < 8; row++) {
        const w = row * 8;
        const o = (by * 8 + row) * pw + bx * 8;
        if (
          ws[w + 1] === 0 &&
          ws[w + 2] === 0 &&
          ws[w + 3] === 0 &&
          ws[w + 4] === 0 &&
          ws[w + 5] === 0 &&
          ws[w + 6] === 0 &&
          ws[w + 7] === 0
        ) {
          const v = lim[((ws[w] + (1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3)) & 1023];
          out[o] = v;
          out[o + 1] = v;
          out[o + 2] = v;
          out[o + 3] = v;
          out[o + 4] = v;
          out[o + 5] = v;
          out[o + 6] = v;
          out[o + 7] = v;
          continue;
        }
        let z2 = ws[w + 2];
        let z3 = ws[w + 6];
        let z1 = Math.imul(z2 + z3, F_0_541);
        let tmp2 = (z1 - Math.imul(z3, F_1_847)) | 0;
        let tmp3 = (z1 + Math.imul(z2, F_0_765)) | 0;
        let tmp0 = (ws[w] + ws[w + 4]) << CONST_BITS;
        let tmp1 = (ws[w] - ws[w + 4]) << CONST_BITS;
        const tmp10 = (tmp0 + tmp3) | 0;
        const tmp13 = (tmp0 - tmp3) | 0;
        const tmp11 = (tmp1 + tmp2) | 0;
        const tmp12 = (tmp1 - tmp2) | 0;

        tmp0 = ws[w + 7];
        tmp1 = ws[w + 5];
        tmp2 = ws[w + 3];
        tmp3 = ws[w + 1];
        z1 = (tmp0 + tmp3) | 0;
        z2 = (tmp1 + tmp2) | 0;
        z3 = (tmp0 + tmp2) | 0;
        let z4 = (tmp1 + tmp3) | 0;
        const z5 = Math.imul(z3 + z4, F_1_175);
        tmp0 = Math.imul(tmp0, F_0_298);
        tmp1 = Math.imul(tmp1, F_2_053);
        tmp2 = Math.imul(tmp2, F_3_072);
        tmp3 = Math.imul(tmp3, F_1_501);
        z1 = Math.imul(z1, -F_0_899);
        z2 = Math.imul(z2, -F_2_562);
        z3 = (Math.imul(z3, -F_1_961) + z5) | 0;
        z4 = (Math.imul(z4, -F_0_390) + z5) | 0;
        tmp0 = (tmp0 + z1 + z3) | 0;
        tmp1 = (tmp1 + z2 + z4) | 0;
        tmp2 = (tmp2 + z2 + z3) | 0;
        tmp3 = (tmp3 + z1 + z4) | 0;

        out[o] = lim[((tmp10 + tmp3 + rnd2) >> sh2) & 1023];
        out[o + 7] = lim[((tmp10 - tmp3 + rnd2) >> sh2) & 1023];
        out[o + 1] = lim[((tmp11 + tmp2 + rnd2) >> sh2) & 1023];
        out[o + 6] = lim[((tmp11 - tmp2 + rnd2) >> sh2) & 1023];
        out[o + 2] = lim[((tmp12 + tmp1 + rnd2) >> sh2) & 1023];
        out[o + 5] = lim[((tmp12 - tmp1 + rnd2) >> sh2) & 1023];
        out[o + 3] = lim[((tmp13 + tmp0 + rnd2) >> sh2) & 1023];
        out[o + 4] = lim[((tmp13 - tmp0 + rnd2) >> sh2) & 1023];
      }
    }
  }
  return out;
}

/**
 * Row by row, one component's samples at full image size, with the method jdsample.c picks:
 * as is, fancy h2v1 / h1v2 / h2v2 (triangular filter with libjpeg's alternating rounding
 * biases), or plain replication for other integer ratios (and for h2v1 / h2v2 components at
 * most 2 samples wide, where libjpeg skips fancy upsampling). Samples past the component's real
 * size (cw × ch) are replaced by the last real row/column, as libjpeg's main controller and the
 * fancy upsamplers' edge cases do. Returns a function giving output row y (≥ width samples).
 */
function rowUpsampler(
  plane: Uint8Array,
  pw: number,
  cw: number,
  ch: number,
  hx: number,
  vx: number,
  width: number,
): (y: number) => Uint8Array {
  if (hx === 1 && vx === 1) return (y) => plane.subarray(y * pw, y * pw + width);
  const row = new Uint8Array(Math.max(cw * hx, width));
  const fancyH = hx === 2 && cw > 2;
  if (hx === 2 && vx === 1 && fancyH) {
    return (y) => {
      const s = y * pw;
      const last = cw - 1;
      for (let x = 0; x < cw; x++) {
        const c3 = plane[s + x] * 3;
        row[2 * x] = (c3 + plane[s + (x > 0 ? x - 1 : 0)] + 1) >> 2;
        row[2 * x + 1] = (c3 + plane[s + (x < last ? x + 1 : last)] + 2) >> 2;
      }
      return row;
    };
  }
  // The row nearer to output row y and the next nearest: above for even y, below for odd y.
  const rows = (y: number) => {
    const iy = y >> 1;
    const far = (y & 1) === 0 ? (iy > 0 ? iy - 1 : 0) : iy < ch - 1 ? iy + 1 : iy;
    return [iy * pw, far * pw];
  };
  if (hx === 1 && vx === 2) {
    return (y) => {
      const [near, far] = rows(y);
      const bias = (y & 1) === 0 ? 1 : 2;
      for (let x = 0; x < width; x++) row[x] = (plane[near + x] * 3 + plane[far + x] + bias) >> 2;
      return row;
    };
  }
  if (hx === 2 && vx === 2 && fancyH) {
    const sums = new Int32Array(cw);
    return (y) => {
      const [near, far] = rows(y);
      for (let x = 0; x < cw; x++) sums[x] = plane[near + x] * 3 + plane[far + x];
      const last = cw - 1;
      for (let x = 0; x < cw; x++) {
        const c3 = sums[x] * 3;
        row[2 * x] = (c3 + sums[x > 0 ? x - 1 : 0] + 8) >> 4;
        row[2 * x + 1] = (c3 + sums[x < last ? x + 1 : last] + 7) >> 4;
      }
      return row;
    };
  }
  return (y) => {
    const s = Math.min((y / vx) | 0, ch - 1) * pw;
    for (let x = 0; x < width; x++) row[x] = plane[s + ((x / hx) | 0)];
    return row;
  };
}

// jdcolor.c's tables: SCALEBITS = 16, FIX(x) = round(x * 65536), ONE_HALF = 1 << 15.
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
(() => {
  const fix = (x: number) => Math.trunc(x * 65536 + 0.5);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    CR_R[i] = (fix(1.402) * x + 32768) >> 16;
    CB_B[i] = (fix(1.772) * x + 32768) >> 16;
    CR_G[i] = -fix(0.71414) * x;
    CB_G[i] = -fix(0.34414) * x + 32768;
  }
})();

/** libjpeg's sample_range_limit: LIMIT[v + LIMIT_OFF] = clamp(v, 0, 255) for v in [-384, 639]. */
const LIMIT_OFF = 384;
const LIMIT = (() => {
  const t = new Uint8Array(1024);
  for (let i = 0; i < 1024; i++) t[i] = Math.min(255, Math.max(0, i - LIMIT_OFF));
  return t;
})();

export type JpegColorSpace = 'gray' | 'ycc' | 'rgb' | 'cmyk' | 'ycck';

/** IDCT, upsampling and colour conversion; returns pixels in Pillow's mode for the file. */
export function componentsToPixels(
  comps: Component[],
  width: number,
  height: number,
  maxH: number,
  maxV: number,
  space: JpegColorSpace,
  samplePlanes?: Uint8Array[],
): { mode: 'L' | 'RGB' | 'CMYK'; pixels: Uint8Array } {
  for (const c of comps) {
    if (maxH % c.h !== 0 || maxV % c.v !== 0) {
      // libjpeg: JERR_FRACT_SAMPLE_NOTIMPL.
      throw new JpegError('unsupported JPEG: fractional sampling factors');
    }
  }
  // Lossless JPEG hands over its samples (rows of c.stride); DCT-coded ones go through the IDCT.
  const planes =
    samplePlanes ??
    comps.map((c) => {
      const plane = idctComponent(c);
      c.coefs = new Int16Array(0); // coefficients are no longer needed; let them go early
      return plane;
    });
  const geo = comps.map((c) => ({
    pw: samplePlanes ? c.stride : c.blocksW * 8,
    cw: Math.ceil((width * c.h) / maxH),
    ch: Math.ceil((height * c.v) / maxV),
    hx: maxH / c.h,
    vx: maxV / c.v,
  }));
  // The common layouts (4:2:0, 4:2:2) take a fused path: same arithmetic, fewer passes.
  if (
    space === 'ycc' &&
    geo[0].hx === 1 &&
    geo[0].vx === 1 &&
    geo[1].hx === 2 &&
    geo[1].cw > 2 &&
    (geo[1].vx === 1 || geo[1].vx === 2) &&
    geo[2].hx === geo[1].hx &&
    geo[2].vx === geo[1].vx
  ) {
    return { mode: 'RGB', pixels: fusedYcc(planes, geo[0].pw, geo[1].pw, geo[1].cw, geo[1].ch, geo[1].vx, width, height) };
  }
  const rowOf = comps.map((_, i) => {
    const g = geo[i];
    return rowUpsampler(planes[i], g.pw, g.cw, g.ch, g.hx, g.vx, width);
  });
  const L = LIMIT;
  if (space === 'gray') {
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) out.set(rowOf[0](y).subarray(0, width), y * width);
    return { mode: 'L', pixels: out };
  }
  if (space === 'rgb' || space === 'ycc') {
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const r0 = rowOf[0](y);
      const r1 = rowOf[1](y);
      const r2 = rowOf[2](y);
      let o = y * width * 3;
      if (space === 'rgb') {
        for (let x = 0; x < width; x++, o += 3) {
          out[o] = r0[x];
          out[o + 1] = r1[x];
          out[o + 2] = r2[x];
        }
        continue;
      }
      for (let x = 0; x < width; x++, o += 3) {
        const yy = r0[x] + LIMIT_OFF;
        const cb = r1[x];
        const cr = r2[x];
        out[o] = L[yy + CR_R[cr]];
        out[o + 1] = L[yy + ((CB_G[cb] + CR_G[cr]) >> 16)];
        out[o + 2] = L[yy + CB_B[cb]];
      }
    }
    return { mode: 'RGB', pixels: out };
  }
  // Four components: libjpeg gives CMYK (YCCK converted first); Pillow reads it as "CMYK;I",
  // i.e. stores 255 - value in each channel.
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const r0 = rowOf[0](y);
    const r1 = rowOf[1](y);
    const r2 = rowOf[2](y);
    const r3 = rowOf[3](y);
    let o = y * width * 4;
    for (let x = 0; x < width; x++, o += 4) {
      if (space === 'ycck') {
        const yy = r0[x];
        const cb = r1[x];
        const cr = r2[x];
        // ycck_cmyk_convert: C = limit(255 - R) etc.; then Pillow's inversion.
        out[o] = 255 - L[LIMIT_OFF + 255 - (yy + CR_R[cr])];
        out[o + 1] = 255 - L[LIMIT_OFF + 255 - (yy + ((CB_G[cb] + CR_G[cr]) >> 16))];
        out[o + 2] = 255 - L[LIMIT_OFF + 255 - (yy + CB_B[cb])];
      } else {
        out[o] = 255 - r0[x];
        out[o + 1] = 255 - r1[x];
        out[o + 2] = 255 - r2[x];
      }
      out[o + 3] = 255 - r3[x];
    }
  }
  return { mode: 'CMYK', pixels: out };
}

/**
 * Y at full size, Cb and Cr fancy-upsampled 2× horizontally and 1× or 2× vertically (h2v1 /
 * h2v2 with the same arithmetic as rowUpsampler), converted to RGB in the same loop.
 */
function fusedYcc(
  planes: Uint8Array[],
  pwY: number,
  pwC: number,
  cw: number,
  ch: number,
  vx: number,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const [py, pb, pr] = planes;
  // Column sums of the two chroma rows feeding output row y, with the last one repeated.
  const sb = new Int32Array(cw + 1);
  const sr = new Int32Array(cw + 1);
  // h2v2 sums are 3 * near + far (scale 4): biases 8 / 7 and shift 4; h2v1 uses the row: 1 / 2, shift 2.
  const shift = vx === 2 ? 4 : 2;
  const biasE = vx === 2 ? 8 : 1;
  const biasO = vx === 2 ? 7 : 2;
  const L = LIMIT;
  for (let y = 0; y < height; y++) {
    if (vx === 2) {
      const iy = y >> 1;
      const far = ((y & 1) === 0 ? (iy > 0 ? iy - 1 : 0) : iy < ch - 1 ? iy + 1 : iy) * pwC;
      const near = iy * pwC;
      for (let x = 0; x < cw; x++) {
        sb[x] = pb[near + x] * 3 + pb[far + x];
        sr[x] = pr[near + x] * 3 + pr[far + x];
      }
    } else {
      const row = y * pwC;
      for (let x = 0; x < cw; x++) {
        sb[x] = pb[row + x];
        sr[x] = pr[row + x];
      }
    }
    sb[cw] = sb[cw - 1];
    sr[cw] = sr[cw - 1];
    const yRow = y * pwY;
    let o = y * width * 3;
    let prevB = sb[0];
    let prevR = sr[0];
    for (let x = 0; x < cw; x++) {
      const b3 = sb[x] * 3;
      const r3 = sr[x] * 3;
      let cb = (b3 + prevB + biasE) >> shift;
      let cr = (r3 + prevR + biasE) >> shift;
      let yy = py[yRow + 2 * x] + LIMIT_OFF;
      out[o] = L[yy + CR_R[cr]];
      out[o + 1] = L[yy + ((CB_G[cb] + CR_G[cr]) >> 16)];
      out[o + 2] = L[yy + CB_B[cb]];
      o += 3;
      if (2 * x + 1 < width) {
        cb = (b3 + sb[x + 1] + biasO) >> shift;
        cr = (r3 + sr[x + 1] + biasO) >> shift;
        yy = py[yRow + 2 * x + 1] + LIMIT_OFF;
        out[o] = L[yy + CR_R[cr]];
        out[o + 1] = L[yy + ((CB_G[cb] + CR_G[cr]) >> 16)];
        out[o + 2] = L[yy + CB_B[cb]];
        o += 3;
      }
      prevB = sb[x];
      prevR = sr[x];
    }
  }
  return out;
}

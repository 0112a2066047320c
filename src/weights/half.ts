/**
 * float32 → float16 and bfloat16 bits, each rounded to nearest, ties to even: what numpy's
 * astype(float16) and torch's .half() / .bfloat16() give (reading back: raw-tensor's decodeElements).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 31) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // Half subnormal: value = frac * 2^-24, frac = m24 >> (14 - e), rounded.
    const shift = 14 - e;
    if (shift > 24) return sign;
    return sign | roundShift((mant | 0x800000) >>> 0, shift);
  }
  // A carry out of the 10 fraction bits bumps the exponent (to Inf at the top): still correct.
  return (sign | (e << 10)) + roundShift(mant, 13);
}

/** m >> shift, rounded to nearest, ties to even. */
function roundShift(m: number, shift: number): number {
  const q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]);
  return out;
}

/** float32 → bfloat16 bits (the top half of the float32, rounded to nearest even; NaN stays NaN). */
export function toBFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) out[i] = ((b >>> 16) & 0x8000) | 0x7fc0;
    else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

import { decodeElements } from '../weights/raw-tensor';

/**
 * IEEE 754 half precision for the optional float16 states storage: float32 → float16 bits with
 * round-to-nearest-even (as numpy's astype(float16)), and back via the weights reader's table.
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

/** Little-endian float16 bytes → float32. */
export function fromFloat16Bytes(bytes: Uint8Array, count: number, where: string): Float32Array {
  return decodeElements(bytes, 'F16', count, where) as Float32Array;
}

/** A host-side tensor as read from a checkpoint or written to a dump: row-major, plain typed array. */
export type RawDType = 'float32' | 'int32' | 'uint8';

export interface RawTensor {
  dtype: RawDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The read side of every checkpoint format: names, shapes and one tensor at a time. */
export interface TensorSource {
  keys(): string[];
  has(key: string): boolean;
  shape(key: string): number[];
  /** The stored element type as the file names it (F32, F16, BF16, I64, ...). */
  storedDType(key: string): string;
  /** Reads one tensor, floats converted to float32 and integers to int32. */
  read(key: string): RawTensor;
  close(): void;
}

// float16 → float32 by table: 65,536 entries, built once on first use.
let halfTable: Float32Array | null = null;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    let v: number;
    if (exp === 0) v = frac * 2 ** -24; // subnormal
    else if (exp === 31) v = frac ? NaN : Infinity;
    else v = (1 + frac / 1024) * 2 ** (exp - 15);
    halfTable[h] = sign * v;
  }
  return halfTable;
}

/** Converts little-endian stored bytes of one element type to a float32/int32/uint8 array. */
export function decodeElements(bytes: Uint8Array, dtype: string, count: number, where: string): RawTensor['data'] {
  // Copy into a fresh aligned buffer: file offsets carry no alignment guarantee.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const table = halfToFloatTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)];
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) throw new Error(`${where}: int64 value ${v} does not fit int32`);
        out[i] = Number(v);
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      return out;
    }
    case 'I16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case 'U8':
    case 'BOOL':
      return bytes.slice(0, count);
    default:
      throw new Error(`${where}: unsupported element type ${dtype}`);
  }
}

export const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function rawDTypeOf(stored: string): RawDType {
  if (stored === 'U8' || stored === 'BOOL') return 'uint8';
  if (stored.startsWith('F') || stored === 'BF16') return 'float32';
  return 'int32';
}

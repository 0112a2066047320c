import { decodeElements } from '../weights/raw-tensor';

export { toFloat16 } from '../weights/half';

/**
 * IEEE 754 half precision for the optional float16 states storage: float32 → float16 bits with
 * round-to-nearest-even (as numpy's astype(float16); src/weights/half), and back via the weights reader's table.
 */

/** Little-endian float16 bytes → float32. */
export function fromFloat16Bytes(bytes: Uint8Array, count: number, where: string): Float32Array {
  return decodeElements(bytes, 'F16', count, where) as Float32Array;
}

import { JpegError } from './jpeg-pixels';

/**
 * Arithmetic-coded JPEG (SOF9 sequential, SOF10 progressive): the QM-coder of ITU T.81 Annex D
 * and the coefficient models of Annex F.1.4.4 / G.1.3.3, with libjpeg's behaviour where the
 * standard leaves room (jdarith.c): a marker inside the data supplies zero bytes until decoding
 * is complete; a code that overflows a magnitude or the block stops the scan's decoding until
 * the next restart (the rest stays as it was); data that ends without a marker is truncation.
 */

/** Table D.2 as [Qe, next index after an LPS, next index after an MPS, switch MPS]; 113 is the fixed 0.5 estimate. */
const QE_TABLE: ReadonlyArray<readonly [number, number, number, number]> = [
  [0x5a1d, 1, 1, 1],
  [0x2586, 14, 2, 0],
  [0x1114, 16, 3, 0],
  [0x080b, 18, 4, 0],
  [0x03d8, 20, 5, 0],
  [0x01da, 23, 6, 0],
  [0x00e5, 25, 7, 0],
  [0x006f, 28, 8, 0],
  [0x0036, 30, 9, 0],
  [0x001a, 33, 10, 0],
  [0x000d, 35, 11, 0],
  [0x0006, 9, 12, 0],
  [0x0003, 10, 13, 0],
  [0x0001, 12, 13, 0],
  [0x5a7f, 15, 15, 1],
  [0x3f25, 36, 16, 0],
  [0x2cf2, 38, 17, 0],
  [0x207c, 39, 18, 0],
  [0x17b9, 40, 19, 0],
  [0x1182, 42, 20, 0],
  [0x0cef, 43, 21, 0],
  [0x09a1, 45, 22, 0],
  [0x072f, 46, 23, 0],
  [0x055c, 48, 24, 0],
  [0x0406, 49, 25, 0],
  [0x0303, 51, 26, 0],
  [0x0240, 52, 27, 0],
  [0x01b1, 54, 28, 0],
  [0x0144, 56, 29, 0],
  [0x00f5, 57, 30, 0],
  [0x00b7, 59, 31, 0],
  [0x008a, 60, 32, 0],
  [0x0068, 62, 33, 0],
  [0x004e, 63, 34, 0],
  [0x003b, 32, 35, 0],
  [0x002c, 33, 9, 0],
  [0x5ae1, 37, 37, 1],
  [0x484c, 64, 38, 0],
  [0x3a0d, 65, 39, 0],
  [0x2ef1, 67, 40, 0],
  [0x261f, 68, 41, 0],
  [0x1f33, 69, 42, 0],
  [0x19a8, 70, 43, 0],
  [0x1518, 72, 44, 0],
  [0x1177, 73, 45, 0],
  [0x0e74, 74, 46, 0],
  [0x0bfb, 75, 47, 0],
  [0x09f8, 77, 48, 0],
  [0x0861, 78, 49, 0],
  [0x0706, 79, 50, 0],
  [0x05cd, 48, 51, 0],
  [0x04de, 50, 52, 0],
  [0x040f, 50, 53, 0],
  [0x0363, 51, 54, 0],
  [0x02d4, 52, 55, 0],
  [0x025c, 53, 56, 0],
  [0x01f8, 54, 57, 0],
  [0x01a4, 55, 58, 0],
  [0x0160, 56, 59, 0],
  [0x0125, 57, 60, 0],
  [0x00f6, 58, 61, 0],
  [0x00cb, 59, 62, 0],
  [0x00ab, 61, 63, 0],
  [0x008f, 61, 32, 0],
  [0x5b12, 65, 65, 1],
  [0x4d04, 80, 66, 0],
  [0x412c, 81, 67, 0],
  [0x37d8, 82, 68, 0],
  [0x2fe8, 83, 69, 0],
  [0x293c, 84, 70, 0],
  [0x2379, 86, 71, 0],
  [0x1edf, 87, 72, 0],
  [0x1aa9, 87, 73, 0],
  [0x174e, 72, 74, 0],
  [0x1424, 72, 75, 0],
  [0x119c, 74, 76, 0],
  [0x0f6b, 74, 77, 0],
  [0x0d51, 75, 78, 0],
  [0x0bb6, 77, 79, 0],
  [0x0a40, 77, 48, 0],
  [0x5832, 80, 81, 1],
  [0x4d1c, 88, 82, 0],
  [0x438e, 89, 83, 0],
  [0x3bdd, 90, 84, 0],
  [0x34ee, 91, 85, 0],
  [0x2eae, 92, 86, 0],
  [0x299a, 93, 87, 0],
  [0x2516, 86, 71, 0],
  [0x5570, 88, 89, 1],
  [0x4ca9, 95, 90, 0],
  [0x44d9, 96, 91, 0],
  [0x3e22, 97, 92, 0],
  [0x3824, 99, 93, 0],
  [0x32b4, 99, 94, 0],
  [0x2e17, 93, 86, 0],
  [0x56a8, 95, 96, 1],
  [0x4f46, 101, 97, 0],
  [0x47e5, 102, 98, 0],
  [0x41cf, 103, 99, 0],
  [0x3c3d, 104, 100, 0],
  [0x375e, 99, 93, 0],
  [0x5231, 105, 102, 0],
  [0x4c0f, 106, 103, 0],
  [0x4639, 107, 104, 0],
  [0x415e, 103, 99, 0],
  [0x5627, 105, 106, 1],
  [0x50e7, 108, 107, 0],
  [0x4b85, 109, 103, 0],
  [0x5597, 110, 109, 0],
  [0x504f, 111, 107, 0],
  [0x5a10, 110, 111, 1],
  [0x5522, 112, 109, 0],
  [0x59eb, 112, 111, 1],
  [0x5a1d, 113, 113, 0],
];

const QE = Int32Array.from(QE_TABLE, (r) => r[0]);
/** Next state after an LPS, with bit 7 set where the MPS switches (libjpeg's packing). */
const NEXT_LPS = Uint8Array.from(QE_TABLE, (r) => r[1] | (r[3] << 7));
const NEXT_MPS = Uint8Array.from(QE_TABLE, (r) => r[2]);

export const FIXED_BIN = 113;

/** Conditioning from DAC segments: DC lower/upper bounds and the AC Kx, per table (T.81 F.1.4.4). */
export interface ArithConditioning {
  dcL: Uint8Array;
  dcU: Uint8Array;
  acK: Uint8Array;
}

export function defaultConditioning(): ArithConditioning {
  return { dcL: new Uint8Array(16), dcU: new Uint8Array(16).fill(1), acK: new Uint8Array(16).fill(5) };
}

/** The QM decoder over the entropy-coded data, with the fields processRestart uses. */
export class ArithDecoder {
  private c = 0;
  private a = 0;
  private ct = -16;
  marker = 0;
  /** libjpeg's ct = -1: a bad code stopped decoding until the next restart. */
  insufficient = false;

  constructor(
    readonly data: Uint8Array,
    public pos: number,
  ) {}

  reset(): void {
    this.c = 0;
    this.a = 0;
    this.ct = -16;
  }

  private byte(): number {
    if (this.pos >= this.data.length) throw new JpegError('truncated JPEG: the file ends inside the compressed image data');
    return this.data[this.pos++];
  }

  /** Decodes one binary decision with the adaptive state stats[i] (updated in place). */
  decode(stats: Uint8Array, i: number): number {
    while (this.a < 0x8000) {
      if (--this.ct < 0) {
        let d = 0;
        if (this.marker === 0) {
          d = this.byte();
          if (d === 0xff) {
            do d = this.byte();
            while (d === 0xff);
            if (d === 0) d = 0xff;
            else {
              this.marker = d;
              d = 0;
            }
          }
        }
        this.c = (this.c << 8) | d;
        if ((this.ct += 8) < 0 && ++this.ct === 0) this.a = 0x8000;
      }
      this.a <<= 1;
    }
    const sv = stats[i];
    const qe = QE[sv & 0x7f];
    const nl = NEXT_LPS[sv & 0x7f];
    const nm = NEXT_MPS[sv & 0x7f];
    let bit = sv >> 7;
    const temp = this.a - qe;
    this.a = temp;
    const scaled = temp * 2 ** this.ct;
    if (this.c >= scaled) {
      this.c -= scaled;
      if (this.a < qe) {
        this.a = qe;
        stats[i] = (sv & 0x80) ^ nm;
      } else {
        this.a = qe;
        stats[i] = (sv & 0x80) ^ nl;
        bit ^= 1;
      }
    } else if (this.a < 0x8000) {
      if (this.a < qe) {
        stats[i] = (sv & 0x80) ^ nl;
        bit ^= 1;
      } else {
        stats[i] = (sv & 0x80) ^ nm;
      }
    }
    return bit;
  }
}

/** Per-scan statistics areas: 64 DC bins and 256 AC bins per table, zeroed at scan start and restarts. */
export class ArithStats {
  readonly dc = new Map<number, Uint8Array>();
  readonly ac = new Map<number, Uint8Array>();
  readonly fixed = Uint8Array.of(FIXED_BIN);

  dcBins(table: number): Uint8Array {
    let s = this.dc.get(table);
    if (!s) this.dc.set(table, (s = new Uint8Array(64)));
    return s;
  }

  acBins(table: number): Uint8Array {
    let s = this.ac.get(table);
    if (!s) this.ac.set(table, (s = new Uint8Array(256)));
    return s;
  }

  clear(): void {
    this.dc.forEach((s) => s.fill(0));
    this.ac.forEach((s) => s.fill(0));
  }
}

/** A component's running DC state in a scan. */
export interface ArithDcState {
  pred: number;
  context: number;
}

/** Figures F.19-F.24: one DC difference added to the prediction (16-bit wrap, as libjpeg). Returns false on a bad code. */
export function decodeArithDc(d: ArithDecoder, bins: Uint8Array, state: ArithDcState, cond: ArithConditioning, table: number): boolean {
  let st = state.context;
  if (d.decode(bins, st) === 0) {
    state.context = 0;
    return true;
  }
  const sign = d.decode(bins, st + 1);
  st += 2 + sign;
  let m = d.decode(bins, st);
  if (m !== 0) {
    st = 20;
    while (d.decode(bins, st)) {
      if ((m <<= 1) === 0x8000) return false;
      st++;
    }
  }
  if (m < (1 << cond.dcL[table]) >> 1) state.context = 0;
  else if (m > (1 << cond.dcU[table]) >> 1) state.context = 12 + sign * 4;
  else state.context = 4 + sign * 4;
  let v = m;
  st += 14;
  while ((m >>= 1)) if (d.decode(bins, st)) v |= m;
  v += 1;
  if (sign) v = -v;
  state.pred = (state.pred + v) & 0xffff;
  return true;
}

/**
 * Figure F.20: AC coefficients ss..se of one block into `coefs` (natural order via `natural`),
 * each shifted left by al. Returns false on a bad code (spectral or magnitude overflow).
 */
export function decodeArithAc(
  d: ArithDecoder,
  bins: Uint8Array,
  fixed: Uint8Array,
  kx: number,
  coefs: Int16Array,
  off: number,
  natural: Int32Array,
  ss: number,
  se: number,
  al: number,
): boolean {
  for (let k = ss; k <= se; k++) {
    let st = 3 * (k - 1);
    if (d.decode(bins, st)) break; // end of block
    while (d.decode(bins, st + 1) === 0) {
      st += 3;
      if (++k > se) return false;
    }
    const sign = d.decode(fixed, 0);
    st += 2;
    let m = d.decode(bins, st);
    if (m !== 0 && d.decode(bins, st)) {
      m <<= 1;
      st = k <= kx ? 189 : 217;
      while (d.decode(bins, st)) {
        if ((m <<= 1) === 0x8000) return false;
        st++;
      }
    }
    let v = m;
    st += 14;
    while ((m >>= 1)) if (d.decode(bins, st)) v |= m;
    v += 1;
    if (sign) v = -v;
    coefs[off + natural[k]] = v * (1 << al);
  }
  return true;
}

/** decode_mcu_AC_refine: one more bit of the coefficients ss..se. Returns false on spectral overflow. */
export function decodeArithAcRefine(
  d: ArithDecoder,
  bins: Uint8Array,
  fixed: Uint8Array,
  coefs: Int16Array,
  off: number,
  natural: Int32Array,
  ss: number,
  se: number,
  al: number,
): boolean {
  const p1 = 1 << al;
  const m1 = -1 << al;
  let kex = se;
  for (; kex > 0; kex--) if (coefs[off + natural[kex]]) break;
  for (let k = ss; k <= se; k++) {
    let st = 3 * (k - 1);
    if (k > kex && d.decode(bins, st)) break;
    for (;;) {
      const z = off + natural[k];
      if (coefs[z]) {
        if (d.decode(bins, st + 2)) coefs[z] += coefs[z] < 0 ? m1 : p1;
        break;
      }
      if (d.decode(bins, st + 1)) {
        coefs[z] = d.decode(fixed, 0) ? m1 : p1;
        break;
      }
      st += 3;
      if (++k > se) return false;
    }
  }
  return true;
}

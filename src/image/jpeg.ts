import { Component, JpegError, componentsToPixels } from './jpeg-pixels';
import { DEFAULT_MAX_PIXELS, pixelLimitProblem } from './limits';
import { STD_AC, STD_DC } from './jpeg-std-huffman';
import {
  ArithConditioning,
  ArithDcState,
  ArithDecoder,
  ArithStats,
  decodeArithAc,
  decodeArithAcRefine,
  decodeArithDc,
  defaultConditioning,
} from './jpeg-arith';

export { JpegError };

/**
 * A JPEG decoder that reproduces what Pillow gets from libjpeg-turbo (its default settings:
 * JDCT_ISLOW integer IDCT, fancy upsampling, fixed-point YCbCr→RGB), so the model sees the
 * same integers as under transformers. jpeg-js could not be used for this: its IDCT, nearest
 * chroma upsampling and float colour conversion differ (mean 0.6 levels on a 4:4:4 photo), and
 * it keeps its coefficients private. This file parses markers and entropy-decodes baseline,
 * extended and progressive Huffman scans into coefficient blocks; jpeg-pixels.ts turns them
 * into pixels.
 *
 * Checked bit-exact against Pillow 12.3 / libjpeg-turbo 3.1 on baseline, progressive (custom
 * scan scripts too), restart intervals, every sampling layout cjpeg writes, gray, RGB (Adobe 0),
 * CMYK, YCCK, sizes 1x1 to 1411x1411, and files cut short with an EOI appended. Missing Huffman
 * tables 0/1 are the standard ones (Motion-JPEG); a sequential file whose scan data is complete
 * but whose EOI is missing decodes (libjpeg-turbo does; Pillow does or not depending on how its
 * buffering meets the end). Marker and scan-header checks follow jdmarker.c / jdphuff.c.
 * Arithmetic-coded scans (SOF9, SOF10) are decoded by jpeg-arith.ts; lossless Huffman JPEG (SOF3,
 * 8-bit, as Pillow takes it) by predictor undifferencing (jdpred.c). Known gaps: arithmetic-coded
 * lossless (SOF11) and lossless restart intervals that are not whole rows are refused; a progressive file cut short before
 * its last scans gets no interblock smoothing (libjpeg's decompress_smooth_data); in corrupt
 * data, coefficients large enough to overflow 16 bits can give single pixels that differ from
 * libjpeg-turbo's SIMD IDCT, which saturates where the C code wraps.
 */

/** What Pillow's JpegImagePlugin makes of the file, before any conversion. */
export interface JpegImage {
  width: number;
  height: number;
  /** 'L' gray, 'RGB', or 'CMYK' holding Pillow's values (libjpeg's output inverted: rawmode CMYK;I). */
  mode: 'L' | 'RGB' | 'CMYK';
  data: Uint8Array;
  /** The first APP1 "Exif\0\0" segment with later ones appended, as Pillow's info["exif"]. */
  exif: Uint8Array | null;
  /** The last APP1 XMP packet, as Pillow's info["xmp"]. */
  xmp: Uint8Array | null;
  progressive: boolean;
}

// Zigzag position → natural (row-major) position. The 16 extra 63s copy libjpeg's
// jpeg_natural_order padding, which absorbs run lengths that overshoot in corrupt data.
const NATURAL = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57,
  50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63,
  63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

const LOOKAHEAD = 9;

/** A Huffman table in libjpeg's "derived" form plus a 9-bit lookup for the short codes. */
/** A DHT table as stored in the file; libjpeg validates and derives it when a scan uses it. */
interface RawHuffTable {
  counts: Uint8Array;
  values: Uint8Array;
  derived: HuffTable | null;
}

interface HuffTable {
  lookup: Int32Array; // (length << 8) | symbol for codes of ≤ 9 bits, 0 otherwise
  maxcode: Int32Array; // [0..17], largest code of each length, -1 if none; [17] is a sentinel
  valoffset: Int32Array; // symbol index = code + valoffset[length]
  values: Uint8Array;
}

function buildHuffTable(counts: Uint8Array, values: Uint8Array, isDC: boolean, lossless = false): HuffTable {
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  const lookup = new Int32Array(1 << LOOKAHEAD);
  let code = 0;
  let p = 0;
  for (let len = 1; len <= 16; len++) {
    valoffset[len] = p - code;
    for (let i = 0; i < counts[len - 1]; i++) {
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        const base = code << shift;
        for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | values[p];
      }
      p++;
      code++;
    }
    if (counts[len - 1]) maxcode[len] = code - 1;
    // libjpeg rejects tables whose codes overflow their length (JERR_BAD_HUFF_TABLE).
    if (code > 1 << len) throw new JpegError('corrupt JPEG: bad Huffman table');
    code <<= 1;
  }
  maxcode[17] = 0xfffff;
  if (isDC) {
    for (let i = 0; i < p; i++) if (values[i] > (lossless ? 16 : 15)) throw new JpegError('corrupt JPEG: bad Huffman table');
  }
  return { lookup, maxcode, valoffset, values };
}

/**
 * Entropy-coded data reader with libjpeg's behaviour at the edges: FF00 is a data FF, a marker
 * stops the data and zero bits are supplied after it (the decoder then marks the segment as
 * short of data, like libjpeg's insufficient_data), and running off the end of the file is
 * truncation, which Pillow reports as "image file is truncated".
 */
class BitReader {
  acc = 0;
  bits = 0;
  /** How many of the low `bits` are zero filler after a marker. */
  fake = 0;
  /** The marker code that ended the data (libjpeg's unread_marker), or 0. */
  marker = 0;
  insufficient = false;
  /** The data ran out (no marker): only zero filler follows. */
  eof = false;

  constructor(
    readonly data: Uint8Array,
    public pos: number,
  ) {}

  fill(): void {
    const data = this.data;
    while (this.bits <= 24) {
      let c = 0;
      if (this.marker === 0 && !this.eof) {
        if (this.pos >= data.length) {
          // The end of the file stands for a marker: fine if no bit past it is used.
          this.eof = true;
        } else {
          c = data[this.pos++];
          if (c === 0xff) {
            let d = 0xff;
            // Any run of FFs then 00 stands for one FF data byte; FFs then a code is a marker.
            while (d === 0xff && this.pos < data.length) d = data[this.pos++];
            if (d === 0xff) {
              this.eof = true;
              c = 0;
            } else if (d === 0) {
              c = 0xff;
            } else {
              this.marker = d;
              c = 0;
            }
          }
        }
      }
      if (this.marker !== 0 || this.eof) this.fake += 8;
      this.acc = (this.acc << 8) | c;
      this.bits += 8;
    }
  }

  private used(): void {
    if (this.bits < this.fake) {
      if (this.eof) throw new JpegError('truncated JPEG: the file ends inside the compressed image data');
      this.insufficient = true;
      this.fake = this.bits;
    }
  }

  getBits(n: number): number {
    if (this.bits < n) this.fill();
    this.bits -= n;
    const v = (this.acc >>> this.bits) & ((1 << n) - 1);
    if (this.fake !== 0) this.used();
    return v;
  }

  getBit(): number {
    if (this.bits < 1) this.fill();
    this.bits--;
    const v = (this.acc >>> this.bits) & 1;
    if (this.fake !== 0) this.used();
    return v;
  }

  /** libjpeg's HUFF_DECODE + jpeg_huff_decode: a bad code consumes 17 bits and yields 0. */
  decode(t: HuffTable): number {
    if (this.bits < 17) this.fill();
    const e = t.lookup[(this.acc >>> (this.bits - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)];
    if (e !== 0) {
      this.bits -= e >> 8;
      if (this.fake !== 0) this.used();
      return e & 0xff;
    }
    let len = LOOKAHEAD + 1;
    let code = (this.acc >>> (this.bits - len)) & ((1 << len) - 1);
    while (code > t.maxcode[len]) {
      len++;
      code = (this.acc >>> (this.bits - len)) & ((1 << len) - 1);
    }
    this.bits -= len;
    if (this.fake !== 0) this.used();
    if (len > 16) return 0;
    return t.values[code + t.valoffset[len]];
  }

  /** Drops buffered bits (at a restart or at the end of a scan). */
  reset(): void {
    this.acc = 0;
    this.bits = 0;
    this.fake = 0;
  }
}

/** HUFF_EXTEND: an s-bit magnitude category value to a signed coefficient. */
function extend(v: number, s: number): number {
  return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
}

interface Frame {
  progressive: boolean;
  /** Lossless (SOF3): one sample per data unit, differences in `samples`. */
  lossless: boolean;
  samples: Map<Component, Int32Array>;
  /** Lossless output samples (8-bit, rows of c.stride) once a component's scan is undifferenced. */
  planes: Map<Component, Uint8Array>;
  /** Arithmetic entropy coding (SOF9, SOF10) instead of Huffman. */
  arithmetic: boolean;
  width: number;
  height: number;
  components: Component[];
  maxH: number;
  maxV: number;
  mcusX: number;
  mcusY: number;
}

interface ScanState {
  eobrun: number;
}

/** libjpeg's next_marker: skip to the next FF xx (xx ≠ 0, ≠ FF); its code and the position past it, or null at the end. */
function findMarker(data: Uint8Array, pos: number): { code: number; pos: number } | null {
  for (;;) {
    while (pos < data.length && data[pos] !== 0xff) pos++;
    do pos++;
    while (pos < data.length && data[pos] === 0xff);
    if (pos >= data.length) return null;
    const c = data[pos++];
    if (c !== 0) return { code: c, pos };
  }
}

function nextMarker(data: Uint8Array, pos: number): { code: number; pos: number } {
  const m = findMarker(data, pos);
  if (!m) throw new JpegError('truncated JPEG: no end-of-image marker (the file ends early)');
  return m;
}

/** Reads an unsigned 16-bit big-endian value, failing cleanly past the end. */
function u16(data: Uint8Array, pos: number): number {
  if (pos + 2 > data.length) throw new JpegError('truncated JPEG: the file ends inside a marker segment');
  return (data[pos] << 8) | data[pos + 1];
}

const SOF_NAMES: Record<number, string> = {
  0xc8: 'JPG-extension',
  0xc5: 'differential sequential',
  0xc6: 'differential progressive',
  0xc7: 'differential lossless',
  0xcb: 'arithmetic-coded lossless',
  0xcd: 'arithmetic-coded differential sequential',
  0xce: 'arithmetic-coded differential progressive',
  0xcf: 'arithmetic-coded differential lossless',
};

export function decodeJpeg(data: Uint8Array, maxPixels = DEFAULT_MAX_PIXELS): JpegImage {
  if (data.length < 3 || data[0] !== 0xff || data[1] !== 0xd8 || data[2] !== 0xff) throw new JpegError('not a JPEG file');
  const qt: (Uint16Array | undefined)[] = [];
  const dcTables: (RawHuffTable | undefined)[] = [];
  const acTables: (RawHuffTable | undefined)[] = [];
  let frame: Frame | null = null;
  let restartInterval = 0;
  const conditioning = defaultConditioning();
  let sawJFIF = false;
  let adobeTransform = -1;
  let exif: Uint8Array | null = null;
  let xmp: Uint8Array | null = null;
  let scans = 0;
  let pos = 2;
  for (;;) {
    // Only the EOI is missing when a sequential image's scans have covered every component:
    // libjpeg has all rows then (Pillow too, when its buffering did not ask for more data).
    const complete = frame !== null && !frame.progressive && frame.components.every((c) => c.quantLatched);
    const m = findMarker(data, pos);
    if (!m) {
      if (complete) break;
      throw new JpegError('truncated JPEG: no end-of-image marker (the file ends early)');
    }
    pos = m.pos;
    const code = m.code;
    if (code === 0xd9) break; // EOI
    // libjpeg's get_soi: JERR_SOI_DUPLICATE.
    if (code === 0xd8) throw new JpegError('corrupt JPEG: two start-of-image (SOI) markers');
    if ((code >= 0xd0 && code <= 0xd7) || code === 0x01) continue; // no payload
    // DHP, EXP, JPGn and the reserved codes: libjpeg's JERR_UNKNOWN_MARKER, before any length is read.
    if (code < 0xc0 || code === 0xde || code === 0xdf || (code >= 0xf0 && code <= 0xfd)) {
      throw new JpegError(`corrupt JPEG: unsupported marker FF${hex(code)}`);
    }
    // A file that ends inside a marker segment after complete image data (a mutated EOI): libjpeg
    // reads its inserted EOI there and keeps the image, as Pillow does.
    if (complete && (pos + 2 > data.length || pos + u16(data, pos) > data.length)) break;
    const len = u16(data, pos);
    if (len < 2) throw new JpegError(`corrupt JPEG: marker FF${code.toString(16).toUpperCase()} has length ${len}`);
    const end = pos + len;
    if (end > data.length) throw new JpegError('truncated JPEG: the file ends inside a marker segment');
    const seg = data.subarray(pos + 2, end);
    switch (code) {
      case 0xe0:
        // libjpeg's examine_app0 wants the full 14-byte JFIF header.
        if (seg.length >= 14 && ascii(seg, 0, 5) === 'JFIF\0') sawJFIF = true;
        break;
      case 0xe1:
        if (seg.length >= 6 && ascii(seg, 0, 6) === 'Exif\0\0') {
          exif = exif === null ? seg.slice() : concat(exif, seg.subarray(6));
        } else if (seg.length >= 29 && ascii(seg, 0, 29) === 'http://ns.adobe.com/xap/1.0/\0') {
          xmp = seg.slice(29);
        }
        break;
      case 0xee:
        if (seg.length >= 12 && ascii(seg, 0, 5) === 'Adobe') adobeTransform = seg[11];
        break;
      case 0xdb:
        readDQT(seg, qt);
        break;
      case 0xc4:
        readDHT(seg, dcTables, acTables);
        break;
      case 0xcc:
        readDAC(seg, conditioning);
        break;
      case 0xdd:
        if (seg.length !== 2) throw new JpegError('corrupt JPEG: bad DRI segment');
        restartInterval = (seg[0] << 8) | seg[1];
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2:
      case 0xc3:
      case 0xc9:
      case 0xca:
        if (frame) throw new JpegError('corrupt JPEG: more than one frame header');
        frame = readSOF(seg, code === 0xc2 || code === 0xca, maxPixels, code === 0xc3);
        frame.arithmetic = code === 0xc9 || code === 0xca;
        break;
      case 0xda: {
        if (!frame) throw new JpegError('corrupt JPEG: scan before frame header');
        pos = decodeScan(data, end, seg, frame, qt, dcTables, acTables, restartInterval, conditioning);
        scans++;
        continue;
      }
      default:
        if (SOF_NAMES[code])
          throw new JpegError(
            `unsupported JPEG: ${SOF_NAMES[code]} coding (only baseline, extended, progressive and lossless JPEGs are supported)`,
          );
        break; // APPn, COM, DNL and others carry nothing we need
    }
    pos = end;
  }
  if (!frame) throw new JpegError('corrupt JPEG: no frame header (SOF)');
  if (scans === 0) throw new JpegError('corrupt JPEG: no image data (no SOS)');
  const f = frame;
  const samplePlanes = f.lossless ? f.components.map((c) => f.planes.get(c) ?? new Uint8Array(c.stride * f.mcusY * c.v)) : undefined;
  const { mode, pixels } = componentsToPixels(
    frame.components,
    frame.width,
    frame.height,
    frame.maxH,
    frame.maxV,
    colorSpace(frame.components, sawJFIF, adobeTransform, frame.lossless),
    samplePlanes,
  );
  return { width: frame.width, height: frame.height, mode, data: pixels, exif, xmp, progressive: frame.progressive };
}

/** libjpeg's default_decompress_parms: how the stored components are to be read. */
function colorSpace(comps: Component[], sawJFIF: boolean, adobe: number, lossless: boolean): 'gray' | 'ycc' | 'rgb' | 'cmyk' | 'ycck' {
  if (comps.length === 1) return 'gray';
  if (comps.length === 3) {
    if (sawJFIF) return 'ycc';
    if (adobe >= 0) return adobe === 0 ? 'rgb' : 'ycc';
    const [a, b, c] = comps.map((x) => x.id);
    if (a === 82 && b === 71 && c === 66) return 'rgb'; // 'R','G','B'
    return lossless ? 'rgb' : 'ycc'; // libjpeg-turbo assumes RGB for a lossless file without markers
  }
  if (adobe >= 0) return adobe === 2 ? 'ycck' : adobe === 0 ? 'cmyk' : 'ycck';
  return 'cmyk';
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(2, '0');
}

/** libjpeg's get_dac: table indices and conditioning values are checked even without arithmetic scans. */
function readDAC(seg: Uint8Array, cond: ArithConditioning): void {
  if (seg.length % 2) throw new JpegError('corrupt JPEG: bad DAC segment length');
  for (let p = 0; p < seg.length; p += 2) {
    const index = seg[p];
    const value = seg[p + 1];
    if (index >= 32) throw new JpegError(`corrupt JPEG: bad arithmetic table index ${index} in DAC`);
    if (index < 16 && (value & 15) > value >> 4) throw new JpegError(`corrupt JPEG: bad arithmetic conditioning value ${value} in DAC`);
    if (index >= 16) cond.acK[index - 16] = value;
    else {
      cond.dcL[index] = value & 15;
      cond.dcU[index] = value >> 4;
    }
  }
}

function ascii(b: Uint8Array, start: number, n: number): string {
  let s = '';
  for (let i = start; i < start + n; i++) s += String.fromCharCode(b[i]);
  return s;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function readDQT(seg: Uint8Array, qt: (Uint16Array | undefined)[]): void {
  let p = 0;
  while (p < seg.length) {
    const pq = seg[p] >> 4;
    const tq = seg[p] & 15;
    p++;
    if (tq > 3 || pq > 1) throw new JpegError('corrupt JPEG: bad quantization table');
    const need = pq ? 128 : 64;
    if (p + need > seg.length) throw new JpegError('corrupt JPEG: short quantization table');
    const t = new Uint16Array(64);
    for (let i = 0; i < 64; i++) {
      t[NATURAL[i]] = pq ? (seg[p] << 8) | seg[p + 1] : seg[p];
      p += pq ? 2 : 1;
    }
    qt[tq] = t;
  }
}

function readDHT(seg: Uint8Array, dc: (RawHuffTable | undefined)[], ac: (RawHuffTable | undefined)[]): void {
  let p = 0;
  while (p < seg.length) {
    if (p + 17 > seg.length) throw new JpegError('corrupt JPEG: short Huffman table');
    const tc = seg[p] >> 4;
    const th = seg[p] & 15;
    const counts = seg.subarray(p + 1, p + 17);
    let n = 0;
    for (let i = 0; i < 16; i++) n += counts[i];
    if (n > 256 || p + 17 + n > seg.length || tc > 1 || th > 3) throw new JpegError('corrupt JPEG: bad Huffman table');
    const values = seg.slice(p + 17, p + 17 + n);
    (tc === 0 ? dc : ac)[th] = { counts: counts.slice(), values, derived: null };
    p += 17 + n;
  }
}

function readSOF(seg: Uint8Array, progressive: boolean, maxPixels: number, lossless = false): Frame {
  if (seg.length < 6) throw new JpegError('corrupt JPEG: short frame header');
  const precision = seg[0];
  const height = (seg[1] << 8) | seg[2];
  const width = (seg[3] << 8) | seg[4];
  const nc = seg[5];
  // Pillow's own checks, with its wording.
  if (precision !== 8) throw new JpegError(`unsupported JPEG: cannot handle ${precision}-bit layers`);
  if (nc !== 1 && nc !== 3 && nc !== 4) throw new JpegError(`unsupported JPEG: cannot handle ${nc}-layer images`);
  if (width === 0 || height === 0) throw new JpegError(`zero-size image (${width}x${height})`);
  if (seg.length !== 6 + nc * 3) throw new JpegError('corrupt JPEG: bad frame header length');
  // Before any allocation: a 200-byte file can declare 65535x65535.
  if (width * height > maxPixels) throw new JpegError(pixelLimitProblem(width, height, maxPixels));
  const components: Component[] = [];
  let maxH = 1;
  let maxV = 1;
  for (let i = 0; i < nc; i++) {
    const id = seg[6 + i * 3];
    const h = seg[7 + i * 3] >> 4;
    const v = seg[7 + i * 3] & 15;
    const tq = seg[8 + i * 3];
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new JpegError('corrupt JPEG: bad sampling factors');
    if (tq > 3) throw new JpegError('corrupt JPEG: bad quantization table index');
    maxH = Math.max(maxH, h);
    maxV = Math.max(maxV, v);
    components.push({
      id,
      h,
      v,
      tq,
      quant: new Uint16Array(64),
      blocksW: 0,
      blocksH: 0,
      stride: 0,
      coefs: new Int16Array(0),
      dcTable: null,
      acTable: null,
      dcSel: 0,
      acSel: 0,
      pred: 0,
      quantLatched: false,
    });
  }
  // A data unit is an 8x8 block, or one sample in a lossless frame.
  const unit = lossless ? 1 : 8;
  const mcusX = Math.ceil(width / (unit * maxH));
  const mcusY = Math.ceil(height / (unit * maxV));
  const samples = new Map<Component, Int32Array>();
  for (const c of components) {
    c.blocksW = Math.ceil((width * c.h) / (maxH * unit));
    c.blocksH = Math.ceil((height * c.v) / (maxV * unit));
    // Room for the dummy blocks that pad interleaved MCUs at the right and bottom edges.
    c.stride = mcusX * c.h;
    if (lossless) samples.set(c, new Int32Array(c.stride * mcusY * c.v));
    else c.coefs = new Int16Array(c.stride * mcusY * c.v * 64);
  }
  return { progressive, lossless, samples, planes: new Map(), arithmetic: false, width, height, components, maxH, maxV, mcusX, mcusY };
}

/**
 * The derived form of a table a scan uses (built once), or libjpeg's errors. An undefined table
 * 0 or 1 is the standard one, as libjpeg's jpeg_std_huff_table supplies it.
 */
function derive(tables: (RawHuffTable | undefined)[], index: number, isDC: boolean, lossless = false): HuffTable {
  if (!tables[index] && index < 2) {
    const std = (isDC ? STD_DC : STD_AC)[index];
    tables[index] = { counts: std.counts, values: std.values, derived: null };
  }
  const t = tables[index];
  if (!t) throw new JpegError(`corrupt JPEG: scan uses Huffman table ${index}, which is not defined`);
  if (!t.derived) t.derived = buildHuffTable(t.counts, t.values, isDC, lossless);
  return t.derived;
}

/** Decodes one scan; returns the position of the marker that follows it. */
function decodeScan(
  data: Uint8Array,
  start: number,
  seg: Uint8Array,
  frame: Frame,
  qt: (Uint16Array | undefined)[],
  dcTables: (RawHuffTable | undefined)[],
  acTables: (RawHuffTable | undefined)[],
  restartInterval: number,
  conditioning: ArithConditioning,
): number {
  const ns = seg[0];
  // libjpeg's get_sos: the length must be exact (JERR_BAD_LENGTH), each component must be one of
  // the frame's first four and appear once (JERR_BAD_COMPONENT_ID).
  if (!ns || ns > 4 || seg.length !== 1 + ns * 2 + 3) throw new JpegError('corrupt JPEG: bad scan header length');
  const comps: Component[] = [];
  // libjpeg's get_sos looks a scan component up among the frame's first four, skipping frame
  // positions whose slot in the scan's list is already filled: a scan that lists components
  // in another order than the frame can then fail to find one (JERR_BAD_COMPONENT_ID).
  const filled: boolean[] = [];
  for (let i = 0; i < ns; i++) {
    const id = seg[1 + i * 2];
    const at = frame.components.slice(0, 4).findIndex((x, ci) => x.id === id && !filled[ci]);
    if (at < 0) {
      if (frame.components.slice(0, 4).some((x) => x.id === id))
        throw new JpegError(`corrupt JPEG: invalid component ID ${id} in SOS (as libjpeg)`);
      throw new JpegError(`corrupt JPEG: scan refers to component ${id}, which the frame does not have`);
    }
    filled[i] = true;
    const c = frame.components[at];
    if (comps.includes(c)) throw new JpegError(`corrupt JPEG: scan names component ${id} twice`);
    c.dcSel = seg[2 + i * 2] >> 4;
    c.acSel = seg[2 + i * 2] & 15;
    comps.push(c);
    // libjpeg latches a component's quantization table when the component first appears in a scan.
    if (frame.lossless) c.quantLatched = true; // no quantization
    if (!c.quantLatched) {
      const q = qt[c.tq];
      if (!q) throw new JpegError(`corrupt JPEG: quantization table ${c.tq} is not defined`);
      c.quant = q.slice();
      c.quantLatched = true;
    }
  }
  const ss = seg[1 + ns * 2];
  const se = seg[2 + ns * 2];
  const ah = seg[3 + ns * 2] >> 4;
  const al = seg[3 + ns * 2] & 15;
  const progressive = frame.progressive;
  if (progressive) {
    // jdphuff.c's start_pass_phuff_decoder: JERR_BAD_PROGRESSION.
    const dcBand = ss === 0;
    const bad = (dcBand ? se !== 0 : ss > se || se > 63 || ns !== 1) || (ah !== 0 && al !== ah - 1) || al > 13;
    if (bad) throw new JpegError(`corrupt JPEG: invalid progressive scan parameters (Ss=${ss}, Se=${se}, Ah=${ah}, Al=${al})`);
  }
  const needDC = !progressive || ss === 0;
  const needAC = !progressive || ss !== 0;
  let br: EntropySource;
  const st: ScanState = { eobrun: 0 };
  let decodeBlock: (c: Component, off: number) => void;
  let restartArith: (() => void) | null = null;
  let afterScan: (() => void) | null = null;
  if (frame.lossless) {
    // jdlossls.c's start_pass: JERR_BAD_LOSSLESS.
    if (ss < 1 || ss > 7 || se !== 0 || ah !== 0 || al >= 8) {
      throw new JpegError(`corrupt JPEG: invalid lossless scan parameters (Ss=${ss}, Se=${se}, Ah=${ah}, Al=${al})`);
    }
    if (frame.arithmetic) throw new JpegError('unsupported JPEG: arithmetic-coded lossless');
    const perRow = ns === 1 ? comps[0].blocksW : frame.mcusX;
    if (restartInterval % perRow !== 0) throw new JpegError('unsupported JPEG: lossless restart interval that is not whole rows');
    for (const c of comps) c.dcTable = derive(dcTables, c.dcSel, true, true);
    const hr = new BitReader(data, start);
    br = hr;
    decodeBlock = (c, off) => {
      const s = hr.decode(c.dcTable as HuffTable);
      (frame.samples.get(c) as Int32Array)[off / 64] = s === 0 ? 0 : s === 16 ? 32768 : extend(hr.getBits(s), s);
    };
    afterScan = () => undifference(frame, comps, ss, al, restartInterval / perRow);
  } else if (frame.arithmetic) {
    const ad = new ArithDecoder(data, start);
    const { decode, restart } = arithBlockDecoder(ad, comps, progressive, ss, se, ah, al, conditioning);
    br = ad;
    decodeBlock = decode;
    restartArith = restart;
  } else {
    for (const c of comps) {
      c.dcTable = needDC && !(progressive && ah !== 0) ? derive(dcTables, c.dcSel, true) : null;
      c.acTable = needAC ? derive(acTables, c.acSel, false) : null;
    }
    const hr = new BitReader(data, start);
    br = hr;
    if (!progressive) decodeBlock = (c, off) => decodeBaseline(hr, c, off);
    else if (ss === 0) decodeBlock = ah === 0 ? (c, off) => decodeDCFirst(hr, c, off, al) : (c, off) => decodeDCRefine(hr, c, off, al);
    else
      decodeBlock =
        ah === 0 ? (c, off) => decodeACFirst(hr, st, c, off, ss, se, al) : (c, off) => decodeACRefine(hr, st, c, off, ss, se, al);
  }

  const single = ns === 1;
  const total = single ? comps[0].blocksW * comps[0].blocksH : frame.mcusX * frame.mcusY;
  let restartsToGo = restartInterval;
  let nextRestart = 0;
  for (const c of comps) c.pred = 0;
  for (let mcu = 0; mcu < total; mcu++) {
    if (restartInterval) {
      if (restartsToGo === 0) {
        nextRestart = processRestart(br, nextRestart);
        for (const c of comps) c.pred = 0;
        st.eobrun = 0;
        restartArith?.();
        restartsToGo = restartInterval;
      }
      restartsToGo--;
    }
    // After hitting a marker libjpeg leaves the rest of the segment untouched (zero in a
    // sequential scan: uniform gray), until the next restart.
    if (br.insufficient) continue;
    if (single) {
      const c = comps[0];
      const bx = mcu % c.blocksW;
      const by = (mcu / c.blocksW) | 0;
      decodeBlock(c, (by * c.stride + bx) * 64);
    } else {
      const mx = mcu % frame.mcusX;
      const my = (mcu / frame.mcusX) | 0;
      for (const c of comps) {
        for (let v = 0; v < c.v; v++) {
          const row = (my * c.v + v) * c.stride + mx * c.h;
          for (let h = 0; h < c.h; h++) decodeBlock(c, (row + h) * 64);
        }
      }
    }
  }
  afterScan?.();
  // The scan ends at the marker that stopped the bit reader, or at the next one in the data, or
  // at the end of the file (the caller decides whether that is acceptable).
  if (br.marker !== 0) return br.pos - 2;
  if (br instanceof BitReader && br.eof) return data.length;
  const m = findMarker(data, br.pos);
  return m ? m.pos - 2 : data.length;
}

/**
 * Block decoding for an arithmetic-coded scan (jdarith.c's decode_mcu variants) and what a
 * restart re-initialises: the statistics areas, DC predictions and contexts, the decoder.
 */
function arithBlockDecoder(
  ad: ArithDecoder,
  comps: Component[],
  progressive: boolean,
  ss: number,
  se: number,
  ah: number,
  al: number,
  cond: ArithConditioning,
): { decode: (c: Component, off: number) => void; restart: () => void } {
  const stats = new ArithStats();
  const dcState = new Map<Component, ArithDcState>(comps.map((c) => [c, { pred: 0, context: 0 }]));
  const usesDc = !progressive || (ss === 0 && ah === 0);
  const usesAc = !progressive || ss !== 0;
  for (const c of comps) {
    if (usesDc) stats.dcBins(c.dcSel);
    if (usesAc) stats.acBins(c.acSel);
  }
  const fail = () => {
    ad.insufficient = true;
  };
  let decode: (c: Component, off: number) => void;
  if (!progressive) {
    decode = (c, off) => {
      if (ad.insufficient) return; // libjpeg leaves the rest of the MCU after a bad code
      const s = dcState.get(c) as ArithDcState;
      if (!decodeArithDc(ad, stats.dcBins(c.dcSel), s, cond, c.dcSel)) return fail();
      c.coefs[off] = s.pred;
      if (!decodeArithAc(ad, stats.acBins(c.acSel), stats.fixed, cond.acK[c.acSel], c.coefs, off, NATURAL, 1, 63, 0)) fail();
    };
  } else if (ss === 0 && ah === 0) {
    decode = (c, off) => {
      if (ad.insufficient) return; // libjpeg leaves the rest of the MCU after a bad code
      const s = dcState.get(c) as ArithDcState;
      if (!decodeArithDc(ad, stats.dcBins(c.dcSel), s, cond, c.dcSel)) return fail();
      c.coefs[off] = s.pred << al;
    };
  } else if (ss === 0) {
    decode = (c, off) => {
      if (ad.decode(stats.fixed, 0)) c.coefs[off] |= 1 << al;
    };
  } else if (ah === 0) {
    decode = (c, off) => {
      if (ad.insufficient) return;
      if (!decodeArithAc(ad, stats.acBins(c.acSel), stats.fixed, cond.acK[c.acSel], c.coefs, off, NATURAL, ss, se, al)) fail();
    };
  } else {
    decode = (c, off) => {
      if (ad.insufficient) return;
      if (!decodeArithAcRefine(ad, stats.acBins(c.acSel), stats.fixed, c.coefs, off, NATURAL, ss, se, al)) fail();
    };
  }
  const restart = () => {
    stats.clear();
    dcState.forEach((s) => {
      s.pred = 0;
      s.context = 0;
    });
    ad.reset();
    ad.insufficient = false;
  };
  return { decode, restart };
}

/** Lossless prediction (T.81 Table H.1) from the left, upper and upper-left samples. */
function predict(psv: number, ra: number, rb: number, rc: number): number {
  switch (psv) {
    case 1:
      return ra;
    case 2:
      return rb;
    case 3:
      return rc;
    case 4:
      return ra + rb - rc;
    case 5:
      return ra + ((rb - rc) >> 1);
    case 6:
      return rb + ((ra - rc) >> 1);
    default:
      return (ra + rb) >> 1;
  }
}

/**
 * jdpred.c: differences to samples for the components of a lossless scan. The first row of the
 * image and of every restart interval is predicted from the left (its first sample from
 * 2^(P-Pt-1)); the first column from above; the rest with the scan's predictor. Samples are
 * 16-bit modular, then scaled by the point transform into 8 bits (jdscaler.c).
 */
function undifference(frame: Frame, comps: Component[], psv: number, al: number, restartMcuRows: number): void {
  const initial = 1 << (8 - al - 1);
  for (const c of comps) {
    const s = frame.samples.get(c) as Int32Array;
    const stride = c.stride;
    const rows = s.length / stride;
    const width = c.blocksW;
    const restartRows = restartMcuRows * (comps.length === 1 ? 1 : c.v);
    for (let y = 0; y < rows; y++) {
      const row = y * stride;
      if (y === 0 || (restartRows > 0 && y % restartRows === 0)) {
        let ra = (s[row] + initial) & 0xffff;
        s[row] = ra;
        for (let x = 1; x < width; x++) {
          ra = (s[row + x] + ra) & 0xffff;
          s[row + x] = ra;
        }
        continue;
      }
      const prev = row - stride;
      let rb = s[prev];
      let ra = (s[row] + rb) & 0xffff;
      s[row] = ra;
      for (let x = 1; x < width; x++) {
        const rc = rb;
        rb = s[prev + x];
        ra = (s[row + x] + predict(psv, ra, rb, rc)) & 0xffff;
        s[row + x] = ra;
      }
    }
    const plane = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) plane[i] = (s[i] << al) & 0xff;
    frame.planes.set(c, plane);
    frame.samples.set(c, new Int32Array(0));
  }
}

/** What processRestart needs of an entropy decoder (Huffman or arithmetic). */
interface EntropySource {
  readonly data: Uint8Array;
  pos: number;
  marker: number;
  insufficient: boolean;
  reset(): void;
}

/** libjpeg's process_restart + read_restart_marker + jpeg_resync_to_restart. */
function processRestart(br: EntropySource, expected: number): number {
  br.reset();
  let marker = br.marker;
  if (marker === 0) {
    const m = nextMarker(br.data, br.pos);
    marker = m.code;
    br.pos = m.pos;
  }
  const want = 0xd0 + expected;
  if (marker === want) {
    br.marker = 0;
  } else {
    // Resynchronise as jpeg_resync_to_restart does.
    for (;;) {
      let action: number;
      if (marker < 0xc0) action = 2;
      else if (marker < 0xd0 || marker > 0xd7) action = 3;
      else if (marker === 0xd0 + ((expected + 1) & 7) || marker === 0xd0 + ((expected + 2) & 7)) action = 3;
      else if (marker === 0xd0 + ((expected - 1) & 7) || marker === 0xd0 + ((expected - 2) & 7)) action = 2;
      else action = 1;
      if (action === 1) {
        br.marker = 0;
        break;
      }
      if (action === 3) {
        br.marker = marker;
        break;
      }
      const m = nextMarker(br.data, br.pos);
      marker = m.code;
      br.pos = m.pos;
    }
  }
  if (br.marker === 0) br.insufficient = false;
  return (expected + 1) & 7;
}

function decodeBaseline(br: BitReader, c: Component, off: number): void {
  const coefs = c.coefs;
  const dc = c.dcTable as HuffTable;
  const ac = c.acTable as HuffTable;
  let s = br.decode(dc);
  let diff = 0;
  if (s) diff = extend(br.getBits(s), s);
  c.pred += diff;
  coefs[off] = c.pred;
  for (let k = 1; k < 64; k++) {
    const rs = br.decode(ac);
    const r = rs >> 4;
    s = rs & 15;
    if (s) {
      k += r;
      coefs[off + NATURAL[k]] = extend(br.getBits(s), s);
    } else {
      if (r !== 15) break;
      k += 15;
    }
  }
}

function decodeDCFirst(br: BitReader, c: Component, off: number, al: number): void {
  const s = br.decode(c.dcTable as HuffTable);
  let diff = 0;
  if (s) diff = extend(br.getBits(s), s);
  c.pred += diff;
  c.coefs[off] = c.pred * (1 << al);
}

function decodeDCRefine(br: BitReader, c: Component, off: number, al: number): void {
  if (br.getBit()) c.coefs[off] |= 1 << al;
}

function decodeACFirst(br: BitReader, st: ScanState, c: Component, off: number, ss: number, se: number, al: number): void {
  if (st.eobrun > 0) {
    st.eobrun--;
    return;
  }
  const coefs = c.coefs;
  const ac = c.acTable as HuffTable;
  for (let k = ss; k <= se; k++) {
    const rs = br.decode(ac);
    const r = rs >> 4;
    const s = rs & 15;
    if (s) {
      k += r;
      coefs[off + NATURAL[k]] = extend(br.getBits(s), s) * (1 << al);
    } else if (r === 15) {
      k += 15;
    } else {
      st.eobrun = 1 << r;
      if (r) st.eobrun += br.getBits(r);
      st.eobrun--;
      break;
    }
  }
}

function decodeACRefine(br: BitReader, st: ScanState, c: Component, off: number, ss: number, se: number, al: number): void {
  const coefs = c.coefs;
  const ac = c.acTable as HuffTable;
  const p1 = 1 << al;
  const m1 = -1 << al;
  let k = ss;
  if (st.eobrun === 0) {
    for (; k <= se; k++) {
      const rs = br.decode(ac);
      let r = rs >> 4;
      let s = rs & 15;
      if (s) {
        // s must be 1 here; libjpeg only warns otherwise and reads the sign bit anyway.
        s = br.getBit() ? p1 : m1;
      } else if (r !== 15) {
        st.eobrun = 1 << r;
        if (r) st.eobrun += br.getBits(r);
        break;
      }
      // Skip r zero-history coefficients, refining the nonzero ones passed on the way.
      do {
        const z = off + NATURAL[k];
        if (coefs[z] !== 0) {
          if (br.getBit() && (coefs[z] & p1) === 0) coefs[z] += coefs[z] >= 0 ? p1 : m1;
        } else {
          if (--r < 0) break;
        }
        k++;
      } while (k <= se);
      if (s) coefs[off + NATURAL[k]] = s;
    }
  }
  if (st.eobrun > 0) {
    for (; k <= se; k++) {
      const z = off + NATURAL[k];
      if (coefs[z] !== 0) {
        if (br.getBit() && (coefs[z] & p1) === 0) coefs[z] += coefs[z] >= 0 ? p1 : m1;
      }
    }
    st.eobrun--;
  }
}

/**
 * Node: a checkpoint rewritten with its float tensors in float16 or bfloat16 (half the download),
 * as a directory our loaders (Node and browser) and transformers read.
 */
import * as fs from 'fs';
import * as path from 'path';
import { toBFloat16, toFloat16 } from '../weights/half';
import { RawTensor, TensorSource } from '../weights/raw-tensor';
import { openCheckpoint } from './checkpoint';

export type HalfDType = 'float16' | 'bfloat16';
export const HALF_DTYPES: readonly HalfDType[] = ['float16', 'bfloat16'];

/** The files besides the weights that a model directory may carry, copied as they are. */
const COMPANION_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'tokenizer.json',
  'added_tokens.json',
  'generation_config.json',
];

export interface ConvertReport {
  out: string;
  tensors: number;
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Writes `outDir` with model.safetensors in `dtype` (integer tensors stay integers) and the
 * config, preprocessor and tokenizer files of `modelDir`. All is written to a temporary directory
 * beside `outDir` and renamed into place at the end: on any failure nothing is left under `outDir`.
 * `outDir` must not exist, or be an empty directory.
 */
export function convertCheckpoint(
  modelDir: string,
  outDir: string,
  dtype: HalfDType,
  onTensor?: (done: number, total: number) => void,
): ConvertReport {
  if (!HALF_DTYPES.includes(dtype)) throw new Error(`convert: dtype must be ${HALF_DTYPES.join(' or ')}, got "${dtype}"`);
  if (fs.existsSync(outDir) && (!fs.statSync(outDir).isDirectory() || fs.readdirSync(outDir).length))
    throw new Error(`${outDir}: already exists; give a new (or empty) directory`);
  const parent = path.dirname(path.resolve(outDir));
  if (!fs.existsSync(parent)) throw new Error(`${outDir}: directory ${path.dirname(outDir)}${path.sep} does not exist`);
  const { source, file } = openCheckpoint(modelDir);
  const tmp = path.join(parent, `.${path.basename(outDir)}.tmp-${process.pid}`);
  try {
    fs.mkdirSync(tmp);
    const report = writeHalfSafetensors(source, path.join(tmp, 'model.safetensors'), dtype, onTensor);
    for (const name of COMPANION_FILES) {
      const from = path.join(modelDir, name);
      if (fs.existsSync(from)) fs.copyFileSync(from, path.join(tmp, name));
    }
    if (!fs.existsSync(path.join(tmp, 'config.json'))) throw new Error(`${modelDir}: no config.json to copy`);
    if (fs.existsSync(outDir)) fs.rmdirSync(outDir);
    fs.renameSync(tmp, outDir);
    return { out: outDir, ...report, bytesBefore: fs.statSync(file).size };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    source.close();
  }
}

const STORED: Record<HalfDType, string> = { float16: 'F16', bfloat16: 'BF16' };

function isFloat(stored: string): boolean {
  return stored === 'F32' || stored === 'F64' || stored === 'F16' || stored === 'BF16';
}

/** Encodes one tensor as stored bytes: floats in `dtype`, integers as I64 (what PyTorch checkpoints hold). */
function encode(t: RawTensor, float: boolean, dtype: HalfDType): Uint8Array {
  if (float) {
    const half = dtype === 'float16' ? toFloat16(t.data as Float32Array) : toBFloat16(t.data as Float32Array);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  const out = new BigInt64Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = BigInt(t.data[i]);
  return new Uint8Array(out.buffer);
}

/** Streams every tensor of `source` into a safetensors file, one tensor in memory at a time. */
function writeHalfSafetensors(
  source: TensorSource,
  file: string,
  dtype: HalfDType,
  onTensor?: (done: number, total: number) => void,
): { tensors: number; bytesAfter: number } {
  const keys = source.keys();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', producer: 'blip-itm convert', dtype } };
  let offset = 0;
  for (const key of keys) {
    const float = isFloat(source.storedDType(key));
    const count = source.shape(key).reduce((a, b) => a * b, 1);
    const size = count * (float ? 2 : 8);
    header[key] = { dtype: float ? STORED[dtype] : 'I64', shape: source.shape(key), data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = fs.openSync(file, 'w');
  try {
    writeAll(fd, len);
    writeAll(fd, headerBytes);
    keys.forEach((key, i) => {
      writeAll(fd, encode(source.read(key), isFloat(source.storedDType(key)), dtype));
      onTensor?.(i + 1, keys.length);
    });
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { tensors: keys.length, bytesAfter: 8 + headerBytes.length + offset };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/** Node: safetensors files on disk (the format itself: src/weights/safetensors.ts). */
import * as fs from 'fs';
import * as path from 'path';
import { RawTensor, numel, shapeString } from '../weights/raw-tensor';
import { SafetensorsFile, ShardedSafetensors } from '../weights/safetensors';
import { FileBytes } from './file-bytes';
import { readShardIndex } from './weight-files';

export function openSafetensors(file: string): SafetensorsFile {
  return SafetensorsFile.fromBytes(new FileBytes(file));
}

/** `model.safetensors.index.json` on disk and the shards beside it, as one source. */
export function openShardedSafetensors(indexFile: string): ShardedSafetensors {
  const index = readShardIndex(indexFile);
  const dir = path.dirname(indexFile);
  const files = new Map<string, SafetensorsFile>();
  try {
    for (const shard of index.shards) files.set(shard, openSafetensors(path.join(dir, shard)));
    return ShardedSafetensors.fromShards(indexFile, index.weightMap, files);
  } catch (e) {
    for (const f of files.values()) f.close();
    throw e;
  }
}

const STORED_NAME: Record<RawTensor['dtype'], string> = { float32: 'F32', int32: 'I32', uint8: 'U8' };

/** Writes tensors (in the given order) and string metadata as a safetensors file. */
export function writeSafetensors(
  file: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata: Record<string, string> = {},
): void {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (t.data.length !== numel(t.shape)) throw new Error(`${name}: ${t.data.length} values for shape ${shapeString(t.shape)}`);
    header[name] = { dtype: STORED_NAME[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data start to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, headerBytes);
    for (const [, t] of list) fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file); // never leave a half-written file under the final name
}

/** Reads every tensor of a small safetensors file (dumps, references) into memory. */
export function readAllSafetensors(file: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const f = openSafetensors(file);
  try {
    const tensors = new Map<string, RawTensor>();
    for (const k of f.keys()) tensors.set(k, f.read(k));
    return { tensors, metadata: f.metadata };
  } finally {
    f.close();
  }
}

/**
 * The Node entry's SafetensorsFile: the core class plus `open(path)`. The core class stays free of
 * the file system (the browser bundle never loads this module); Node users keep `SafetensorsFile.open`.
 */
export const NodeSafetensorsFile: typeof SafetensorsFile & { open(file: string): SafetensorsFile } = Object.assign(SafetensorsFile, {
  open: openSafetensors,
});
export type NodeSafetensorsFile = SafetensorsFile;

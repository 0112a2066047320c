/**
 * What an image index records besides its rows (see FORMAT.md): the model it was made with, the
 * row shape, and how image states are stored. Kept in the LanceDB table's schema metadata, so it
 * is written once, atomically, by whoever creates the table.
 */

export const FORMAT_NAME = 'blip-itm-image-index';
/**
 * Version 1 was our own file format (manifest.json + raw data files), retired for LanceDB;
 * version 2's row checksums covered the file hash and features but not the path.
 */
export const FORMAT_VERSION = 3;

export type StatesStorage = 'float32' | 'float16';
export const STATES_STORAGES: readonly StatesStorage[] = ['float32', 'float16'];

export interface WeightFileRecord {
  /** File name inside the model directory. */
  name: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface ModelRecord {
  /** sha256 over the model's config, image processor config and weight file hashes. */
  fingerprint: string;
  /** Where the model was loaded from when the index was created (informational). */
  dir: string;
  /** The weight files as seen then: lets a later check skip rehashing an unchanged file. */
  files: WeightFileRecord[];
}

export interface Dims {
  /** ITC embedding width (image_text_hidden_size). */
  embed: number;
  /** Image tokens: (image_size / patch_size)^2 + 1. */
  tokens: number;
  /** Vision hidden size. */
  hidden: number;
}

export interface IndexMeta {
  format: typeof FORMAT_NAME;
  version: number;
  model: ModelRecord;
  dims: Dims;
  states: StatesStorage;
}

/** One indexed image as the table holds it (without its vector and states). */
export interface IndexEntry {
  /** Absolute path of the image file. */
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file's bytes, hex: the bytes its vector and states were computed from. */
  sha256: string;
  /** The writer run that added the row: sortable (start time first), the newest wins a duplicate. */
  run: string;
}

export function statesRowBytes(d: Dims, storage: StatesStorage): number {
  return d.tokens * d.hidden * (storage === 'float16' ? 2 : 4);
}

/** Node's Buffers and typed arrays are host-endian; the stored bytes are little-endian. */
export function checkEndianness(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('blip-itm image indexes need a little-endian machine');
}

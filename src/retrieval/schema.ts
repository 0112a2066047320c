/**
 * What an image (and video) index records besides its rows (see FORMAT.md): the model it was made with, the
 * row shape, and how image states are stored. Kept in the LanceDB table's schema metadata, so it
 * is written once, atomically, by whoever creates the table.
 */

export const FORMAT_NAME = 'blip-itm-image-index';
/**
 * Version 1 was our own file format (manifest.json + raw data files), retired for LanceDB;
 * version 2's row checksums covered the file hash and features but not the path; version 3 held
 * images only (it is read as it is, and upgraded in place by the next `index` run: FORMAT.md).
 */
export const FORMAT_VERSION = 4;
/** The images-only format this version reads and upgrades. */
export const IMAGES_ONLY_VERSION = 3;

/** What a row holds: one image, or one video (its sampled frames). */
export type MediaKind = 'image' | 'video';
export const MEDIA_KINDS: readonly MediaKind[] = ['image', 'video'];

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
  /**
   * Frames sampled per video (BLIP's num_frm_test), fixed when the table is created or upgraded,
   * so every video row was encoded alike; absent in a format-3 (images only) index.
   */
  videoFrames?: number;
}

/** One indexed image or video as the table holds it (without its vector and states). */
export interface IndexEntry {
  /** Absolute path of the image or video file. */
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file's bytes, hex: the bytes its vector and states were computed from. */
  sha256: string;
  /** The writer run that added the row: sortable (start time first), the newest wins a duplicate. */
  run: string;
  kind: MediaKind;
  /**
   * Frames whose states the row holds: 1 for an image; a video's sampled frames (the index's
   * videoFrames, or one more for the few frame counts where numpy's arange returns n + 1).
   */
  frames: number;
}

/** Bytes of one row's stored states: frames × tokens × hidden values. */
export function statesRowBytes(d: Dims, storage: StatesStorage, frames = 1): number {
  return frames * d.tokens * d.hidden * (storage === 'float16' ? 2 : 4);
}

/** Node's Buffers and typed arrays are host-endian; the stored bytes are little-endian. */
export function checkEndianness(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('blip-itm image indexes need a little-endian machine');
}

/**
 * Node-only: weights read from the file system. The core (src/weights) parses bytes from any
 * ByteReader; this folder (src/node) opens files for it and is reached only from the Node entry.
 */
import * as fs from 'fs';
import { TensorSource } from '../weights/raw-tensor';
import { TorchBinFile } from '../weights/torch-bin';
import { isShardIndex } from '../weights/weight-files';
import { FileBytes } from './file-bytes';
import { openSafetensors, openShardedSafetensors } from './safetensors';
import { findWeightFile } from './weight-files';
import './zlib';

export { WEIGHT_FILES } from '../weights/weight-files';
export { findWeightFile, weightFilesOf } from './weight-files';

export function openTorchBin(file: string): TorchBinFile {
  return TorchBinFile.fromBytes(new FileBytes(file));
}

/** Opens the weights of a model directory (or a weight file given directly). */
export function openCheckpoint(location: string): { source: TensorSource; file: string } {
  let file = location;
  if (fs.existsSync(location) && fs.statSync(location).isDirectory()) {
    file = findWeightFile(location);
  } else if (!fs.existsSync(location)) {
    throw new Error(`${location}: no such file or directory`);
  }
  if (isShardIndex(file)) return { source: openShardedSafetensors(file), file };
  if (file.endsWith('.bin') || file.endsWith('.pt') || file.endsWith('.pth')) return { source: openTorchBin(file), file };
  return { source: openSafetensors(file), file };
}

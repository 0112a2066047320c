import * as fs from 'fs';
import { TensorSource } from './raw-tensor';
import { SafetensorsFile, ShardedSafetensors } from './safetensors';
import { TorchBinFile } from './torch-bin';
import { findWeightFile, isShardIndex } from './weight-files';

export { WEIGHT_FILES, findWeightFile, weightFilesOf } from './weight-files';

/** Opens the weights of a model directory (or a weight file given directly). */
export function openCheckpoint(location: string): { source: TensorSource; file: string } {
  let file = location;
  if (fs.existsSync(location) && fs.statSync(location).isDirectory()) {
    file = findWeightFile(location);
  } else if (!fs.existsSync(location)) {
    throw new Error(`${location}: no such file or directory`);
  }
  if (isShardIndex(file)) return { source: ShardedSafetensors.open(file), file };
  if (file.endsWith('.bin') || file.endsWith('.pt') || file.endsWith('.pth')) return { source: TorchBinFile.open(file), file };
  return { source: SafetensorsFile.open(file), file };
}

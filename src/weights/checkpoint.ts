import * as fs from 'fs';
import * as path from 'path';
import { TensorSource } from './raw-tensor';
import { SafetensorsFile, ShardedSafetensors } from './safetensors';
import { TorchBinFile } from './torch-bin';

/** Weight files a model directory may hold, in the order they are preferred. */
export const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'] as const;

/** Opens the weights of a model directory (or a weight file given directly). */
export function openCheckpoint(location: string): { source: TensorSource; file: string } {
  let file = location;
  if (fs.existsSync(location) && fs.statSync(location).isDirectory()) {
    const found = WEIGHT_FILES.map((f) => path.join(location, f)).find((f) => fs.existsSync(f));
    if (!found) throw new Error(`${location}: no weights found (looked for ${WEIGHT_FILES.join(', ')})`);
    file = found;
  } else if (!fs.existsSync(location)) {
    throw new Error(`${location}: no such file or directory`);
  }
  if (file.endsWith('.index.json')) return { source: ShardedSafetensors.open(file), file };
  if (file.endsWith('.bin') || file.endsWith('.pt') || file.endsWith('.pth')) return { source: TorchBinFile.open(file), file };
  return { source: SafetensorsFile.open(file), file };
}

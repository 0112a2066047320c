/**
 * Child process for the backend tests: backend choice and wasm threads apply once per process
 * (wasm's thread pool is fixed when it starts; Dawn needs VK_ICD_FILENAMES before it loads).
 *
 *   node dist/test/backend-child.js BACKEND THREADS MODEL_DIR REFERENCE.safetensors
 *
 * Runs the model's forward on the reference file's own pixel values and token ids and prints one
 * JSON line: the backend info, each final output's max abs difference from the reference and its
 * float32 bytes as hex (for bit-identity checks between runs).
 */
import { BackendName, backendInfo, useBackend } from '../src/node/backend';
import { BlipItm } from '../src/model/blip-itm';
import { usePlatform } from '../src/model/platform';
import { nodePlatform } from '../src/node/platform';
import { readAllSafetensors } from '../src/node/safetensors';

const OUTPUTS = ['itm.logits', 'itm.probs', 'itc.image_embeds', 'itc.text_embeds', 'itc.cosine'];

export interface ChildResult {
  backend: string;
  threads: number;
  device: string;
  maxDiff: Record<string, number>;
  hex: Record<string, string>;
}

async function main(): Promise<void> {
  usePlatform(nodePlatform);
  const [backend, threads, modelDir, referenceFile] = process.argv.slice(2);
  const notices: string[] = [];
  await useBackend(backend as BackendName, { threads: threads ? Number(threads) : undefined, notice: (l) => notices.push(l) });
  notices.forEach((l) => process.stderr.write(l + '\n'));
  const result: ChildResult = { ...backendInfo(), maxDiff: {}, hex: {} };
  if (modelDir) {
    const ref = readAllSafetensors(referenceFile).tensors;
    const pix = ref.get('pixel_values')!;
    const rows = (name: string): number[][] => {
      const t = ref.get(name)!;
      const [n, l] = t.shape;
      return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * l, (i + 1) * l)));
    };
    const model = BlipItm.fromDir(modelDir);
    const out = await model.forward(
      { pixelValues: pix.data as Float32Array, shape: pix.shape as [number, number, number, number] },
      { inputIds: rows('input_ids'), attentionMask: rows('attention_mask') },
      { activations: false },
    );
    for (const name of OUTPUTS) {
      const ours = (await out.get(name)!.data()) as Float32Array;
      const theirs = ref.get(name)!.data;
      result.maxDiff[name] = ours.reduce((m, v, i) => Math.max(m, Math.abs(v - theirs[i])), 0);
      result.hex[name] = Buffer.from(ours.buffer, ours.byteOffset, ours.byteLength).toString('hex');
    }
    out.forEach((t) => t.dispose());
    model.dispose();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0), // Dawn and wasm's pthread pool may keep handles; the answer is out
  (e: Error) => {
    process.stderr.write(`backend-child: ${e.message}\n`);
    process.exit(1);
  },
);

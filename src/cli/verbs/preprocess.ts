import { preprocessToTensors } from '../../image';
import { NodeImageProcessor as ImageProcessor } from '../../node/image';
import { resolveModel } from '../../hub';
import { writeSafetensors } from '../../node/safetensors';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { checkOutputPath, writeFileAtomic } from '../io';
import { modelSource } from '../inputs';

export const preprocess: Command = {
  name: 'preprocess',
  summary:
    'Runs the image processor (decode, EXIF, RGB, Pillow-exact bicubic resize, normalise) and writes, ' +
    'for image i, resized.{i} (uint8 [H,W,3]) and pixel_values.{i} (float32 [3,H,W]).',
  usage: 'preprocess --model DIR|HUB_ID [--size N] IMG... --out FILE.safetensors',
  positionals: 'IMG...: JPEG or PNG files.',
  options: {
    model: { type: 'string', arg: 'DIR|HUB_ID', help: 'model directory (its preprocessor_config.json) or hub id' },
    size: { type: 'string', arg: 'N', help: 'resize to NxN instead of the configured size (1..4096)' },
    'max-pixels': MODEL_OPTIONS['max-pixels'],
    out: { type: 'string', arg: 'FILE', help: 'safetensors file to write' },
    'no-exif': {
      type: 'boolean',
      help: "ignore EXIF orientation (as PIL Image.open without exif_transpose); default: applied, as transformers' load_image",
    },
  },
  async run(args) {
    if (!args.positionals.length) throw new UsageError('preprocess: no image given');
    const out = args.required('out');
    // NxN float32 and uint8 planes per image: 4096 is already 256 MB an image.
    const size = args.bounded('size', 1, 4096, ' pixels');
    checkOutputPath(out);
    const processor = ImageProcessor.fromDir(await resolveModel(modelSource(args)), { size, exifTranspose: !args.flag('no-exif') });
    const tensors = preprocessToTensors(processor, args.positionals);
    writeFileAtomic(out, (tmp) => writeSafetensors(tmp, tensors, { producer: 'blip-itm' }));
    process.stderr.write(`wrote ${args.positionals.length * 2} tensors to ${out}\n`);
  },
};

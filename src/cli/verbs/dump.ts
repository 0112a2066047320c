import * as tf from '@tensorflow/tfjs-core';
import * as path from 'path';
import { toRaw } from '../../parity/to-raw';
import { NAME_PATTERNS } from '../../nn/names';
import { writeSafetensors } from '../../node/safetensors';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { ImageArgumentError, checkOutputPath, imageInputs, writeFileAtomic } from '../io';
import { loadModel, textsFrom } from '../inputs';
import { StatusLine } from '../progress';

export const dump: Command = {
  name: 'dump',
  summary:
    'Runs every image with every text (image-major pairs) and writes every activation, named as ' +
    "transformers' reference dump names them, to a safetensors file.",
  usage: 'dump --model DIR|HUB_ID --image IMG... --text TXT... --out FILE.safetensors [--enc-token] [--gradcam-layer L]',
  options: {
    ...MODEL_OPTIONS,
    image: {
      type: 'string',
      multiple: true,
      arg: 'IMG',
      help: 'image files, several after one flag or the flag repeated; - reads one from standard input',
    },
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'text; repeat for several' },
    'texts-file': { type: 'string', arg: 'FILE', help: 'more texts, one per line' },
    out: { type: 'string', arg: 'FILE', help: 'safetensors file to write' },
    'enc-token': { type: 'boolean', help: 'put [ENC] (id 30523) at position 0 of the ITM input' },
    'max-length': { type: 'string', arg: 'N', help: 'truncate texts to N tokens' },
    'no-activations': { type: 'boolean', help: 'write inputs and final scores only' },
    only: {
      type: 'string',
      multiple: true,
      arg: 'NAME',
      help: 'write only this activation (computing only what it needs); repeat for several',
    },
    'gradcam-layer': {
      type: 'string',
      arg: 'L',
      help: "also write gradcam.{L}: Grad-CAM of the ITM match logit over text layer L's cross-attention",
    },
  },
  details: `Names: ${NAME_PATTERNS.join(', ')}.`,
  async run(args) {
    const images = args.strings('image');
    const texts = textsFrom(args);
    const out = args.required('out');
    if (!images.length) throw new UsageError('dump: no image given (--image IMG)');
    if (!texts.length) throw new UsageError('dump: no text given (--text TXT)');
    const gradcamLayer = args.integer('gradcam-layer');
    checkOutputPath(out);
    const inputs = await imageInputs(images, 'dump').catch((e) => {
      throw e instanceof ImageArgumentError ? new UsageError(e.message) : e;
    });
    const status = StatusLine.forStderr(args.flag('quiet'));
    const model = await loadModel(args, status);
    let tensors: Map<string, tf.Tensor> | undefined;
    try {
      status.stage(`running ${inputs.length} image(s) x ${texts.length} text(s)…`);
      tensors = await model.forward(inputs, texts, {
        encToken: args.flag('enc-token'),
        maxLength: args.integer('max-length'),
        activations: !args.flag('no-activations'),
        gradcamLayer,
        only: args.strings('only').length ? args.strings('only') : undefined,
      });
      const metadata = {
        images: JSON.stringify(images.map((p) => (p === '-' ? '-' : path.basename(p)))),
        texts: JSON.stringify(texts),
        pairs: 'image-major',
        enc_token: args.flag('enc-token') ? 'True' : 'False',
        producer: 'blip-itm',
        backend: model.backend.name,
      };
      status.stage(`writing ${out}…`);
      const raw = await toRaw(tensors);
      status.clear();
      writeFileAtomic(out, (tmp) => writeSafetensors(tmp, raw, metadata));
      process.stderr.write(`wrote ${tensors.size} tensors to ${out}\n`);
    } finally {
      status.clear();
      tensors?.forEach((t) => t.dispose());
      model.dispose();
    }
  },
};

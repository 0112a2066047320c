import * as crypto from 'crypto';
import * as os from 'os';
import * as path from 'path';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { loadModel } from '../inputs';
import { Recalls, evaluate, loadEvalSet } from '../../eval';
import { IndexProgressBar } from '../../retrieval/progress';
import { withInterrupts } from './index-cmd';

const KEYS: (keyof Recalls)[] = ['txt_r1', 'txt_r5', 'txt_r10', 'txt_r_mean', 'img_r1', 'img_r5', 'img_r10', 'img_r_mean', 'r_mean'];

/** Where the image features go by default: one index per (annotations, images) pair, in the temp folder. */
function defaultIndex(annotations: string, images: string): string {
  const key = crypto
    .createHash('sha256')
    .update(`${path.resolve(annotations)}\0${path.resolve(images)}`)
    .digest('hex')
    .slice(0, 16);
  return path.join(os.tmpdir(), 'blip-itm-eval', key);
}

export function recallsTable(r: Recalls): string {
  const f = (x: number) => x.toFixed(2).padStart(6);
  return [
    '             R@1     R@5    R@10    mean',
    `text (TR)  ${f(r.txt_r1)}  ${f(r.txt_r5)}  ${f(r.txt_r10)}  ${f(r.txt_r_mean)}`,
    `image (IR) ${f(r.img_r1)}  ${f(r.img_r5)}  ${f(r.img_r10)}  ${f(r.img_r_mean)}`,
    `r_mean ${r.r_mean.toFixed(2)}`,
    '',
  ].join('\n');
}

export const evalCommand: Command = {
  name: 'eval',
  summary: "Evaluates retrieval with BLIP's protocol on a Karpathy-format test set: TR@1/5/10, IR@1/5/10.",
  usage: 'eval --model DIR|HUB_ID --annotations ANN.json --images DIR [--k-test K] [--index PATH|URI] [--json]',
  options: {
    ...MODEL_OPTIONS,
    annotations: {
      type: 'string',
      arg: 'ANN.json',
      help: 'test set in BLIP\'s Karpathy format: [{"image": "relative/path.jpg", "caption": ["…", …]}, …]',
    },
    images: { type: 'string', arg: 'DIR', help: 'folder the annotation image paths are relative to' },
    'k-test': {
      type: 'string',
      arg: 'K',
      help: 'shortlist size each way re-scored by ITM (default 256 as BLIP on COCO; 128 on Flickr30k)',
    },
    index: {
      type: 'string',
      arg: 'PATH|URI',
      help: 'image index holding the encoded images (default: a folder under the temp folder); a rerun resumes it',
    },
    json: { type: 'boolean', help: 'print {"txt_r1", …, "r_mean"} (percentages) as BLIP\'s itm_eval' },
  },
  details: [
    "Captions go through BLIP's pre_caption (30 words) and are tokenised to 35 tokens; the ITC similarity",
    'shortlists k_test texts per image and k_test images per text, re-scored as ITM match logit + ITC with',
    '[ENC] at position 0; everything else scores -100. Ties rank by position in the annotations.',
  ].join('\n'),
  async run(args) {
    const annotations = args.required('annotations');
    const images = args.required('images');
    const kTest = args.integer('k-test', 256) as number;
    if (kTest < 1) throw new UsageError(`eval: --k-test must be 1 or more, got ${kTest}`);
    const set = loadEvalSet(annotations, images);
    const index = args.string('index') ?? defaultIndex(annotations, images);
    const model = await loadModel(args);
    const bar = new IndexProgressBar(process.stderr);
    let stage = '';
    try {
      const result = await withInterrupts(
        (signal) => {
          bar.break();
          process.stderr.write(`blip-itm: ${signal}; saving the images encoded so far (run again to resume)\n`);
        },
        (signal) =>
          evaluate(model, set, {
            kTest,
            index,
            signal,
            onProgress: (s, p) => {
              if (s !== stage) {
                bar.break();
                stage = s;
                if (process.stderr.isTTY) process.stderr.write(s === 'images' ? 'encoding images\n' : 'ITM re-scoring\n');
              }
              bar.update(p);
            },
            onWarning: (m) => {
              bar.break();
              process.stderr.write(`blip-itm: ${m}\n`);
            },
          }),
      );
      bar.break();
      if (args.flag('json')) {
        process.stdout.write(JSON.stringify(Object.fromEntries(KEYS.map((k) => [k, result.recalls[k]]))) + '\n');
      } else {
        process.stdout.write(
          `${set.images.length} images, ${set.texts.length} texts, k_test ${result.kTest}\n${recallsTable(result.recalls)}`,
        );
      }
    } finally {
      bar.break();
      model.dispose();
    }
  },
};

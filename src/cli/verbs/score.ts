import * as path from 'path';
import { Command, MODEL_OPTIONS, ParsedArgs, UsageError } from '../command';
import { ImageArgumentError, imageInputs, readTextFile } from '../io';
import { loadModel, textsFrom } from '../inputs';
import { readPairsFile } from '../pairs-file';
import { StatusLine } from '../progress';
import { VIDEO_DECODE_OPTIONS, checkVideoFiles, encodeVideoArgs, videoSettings } from '../video';

export const score: Command = {
  name: 'score',
  summary:
    'Scores every image or video against every text (or, with --pairs, image i with text i): ITM match probability and/or ITC cosine similarity.',
  usage:
    'score --model DIR|HUB_ID (--image IMG... | --video V...) --text TXT... [--pairs | --pairs-file FILE] [--mode itm|itc|both] [--frames N] [--json] [--quiet]',
  options: {
    ...MODEL_OPTIONS,
    image: {
      type: 'string',
      multiple: true,
      arg: 'IMG',
      help: 'image files (JPEG, PNG, WebP or GIF), several after one flag or the flag repeated; - reads one from standard input',
    },
    video: {
      type: 'string',
      multiple: true,
      arg: 'V',
      help: "video files (anything ffmpeg reads), scored by BLIP's video protocol; rows follow the images, in the order given",
    },
    ...VIDEO_DECODE_OPTIONS,
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'text to match; repeat for several (an empty string is a valid text)' },
    'texts-file': { type: 'string', arg: 'FILE', help: 'more texts, one per line' },
    pairs: { type: 'boolean', help: 'score image i with text i only (as many images as texts), not every image x text' },
    'pairs-file': {
      type: 'string',
      arg: 'FILE',
      help: 'pairs from a CSV (header with image,caption) or JSONL ({"image": ..., "caption": ...}) file; image paths relative to it',
    },
    mode: { type: 'string', arg: 'MODE', help: 'itm (match probability), itc (cosine) or both (default; one image encoding for both)' },
    'max-length': { type: 'string', arg: 'N', help: 'truncate texts to N tokens (BLIP retrieval uses 35; default: no truncation)' },
    'enc-token': { type: 'boolean', help: "put [ENC] at position 0 of the ITM input, as BLIP's retrieval evaluation does" },
    json: {
      type: 'boolean',
      help: 'print {"itm": [[...]], "itc": [[...]]} (rows = images then videos, columns = texts); with pairs [{"image", "text", "itm", "itc"}, ...]',
    },
  },
  async run(args) {
    const mode = args.string('mode') ?? 'both';
    if (!['itm', 'itc', 'both'].includes(mode)) throw new UsageError(`score: --mode must be itm, itc or both, got "${mode}"`);
    const { images, labels, texts } = scoreInputs(args);
    const videos = args.strings('video');
    const inputs = images.length
      ? await imageInputs(images, 'score').catch((e) => {
          throw e instanceof ImageArgumentError ? new UsageError(e.message) : e;
        })
      : [];
    videoSettings(args, 'score'); // bad --frames etc. are usage errors before the model loads
    checkVideoFiles(videos);
    const status = StatusLine.forStderr(args.flag('quiet'));
    const model = await loadModel(args, status);
    try {
      const opts = { maxLength: args.integer('max-length'), encToken: args.flag('enc-token') };
      const pairs = args.flag('pairs') || args.string('pairs-file') !== undefined;
      status.stage('scoring…');
      const progress = (done: number, total: number) => status.count(pairs ? 'scored pairs' : 'scored image x text', done, total);
      if (pairs) {
        const scores = await model.matchPairs(inputs, texts, { ...opts, progress });
        status.clear();
        const rows = scores.map((s, i) => ({
          image: labels[i],
          text: texts[i],
          ...(mode !== 'itc' ? { itm: s.itm } : {}),
          ...(mode !== 'itm' ? { itc: s.itc } : {}),
        }));
        process.stdout.write(args.flag('json') ? JSON.stringify(rows) + '\n' : pairTable(rows));
        return;
      }
      const result: { itm?: number[][]; itc?: number[][] } = {};
      const embeddings = inputs.length ? await model.encodeImages(inputs) : [];
      try {
        if (videos.length) embeddings.push(...(await encodeVideoArgs(model, videos, args, 'score')));
        if (mode === 'both') {
          const s = await model.score(embeddings, texts, { ...opts, progress });
          result.itm = s.probs;
          result.itc = s.itc;
        } else if (mode === 'itm') result.itm = (await model.match(embeddings, texts, opts)).probs;
        else result.itc = await model.similarity(embeddings, texts, opts);
      } finally {
        embeddings.forEach((e) => e.dispose());
      }
      status.clear();
      const rows = [...labels, ...videos];
      process.stdout.write(args.flag('json') ? JSON.stringify(result) + '\n' : scoreTable(rows, texts, result));
    } finally {
      status.clear();
      model.dispose();
    }
  },
};

/** The images (paths to read), their labels (as the user wrote them) and the texts, checked for shape. */
function scoreInputs(args: ParsedArgs): { images: string[]; labels: string[]; texts: string[] } {
  const pairsFile = args.string('pairs-file');
  if (pairsFile !== undefined) {
    if (
      args.strings('image').length ||
      args.strings('video').length ||
      args.strings('text').length ||
      args.string('texts-file') !== undefined
    )
      throw new UsageError('score: --pairs-file gives the images and texts; drop --image, --video, --text and --texts-file');
    const pairs = readPairsFile(pairsFile, readTextFile(pairsFile));
    const dir = path.dirname(pairsFile);
    return {
      images: pairs.map((p) => path.resolve(dir, p.image)),
      labels: pairs.map((p) => p.image),
      texts: pairs.map((p) => p.caption),
    };
  }
  const images = args.strings('image');
  const texts = textsFrom(args);
  const videos = args.strings('video');
  if (!images.length && !videos.length) throw new UsageError('score: no image given (--image IMG, or --video V)');
  if (args.flag('pairs') && videos.length) throw new UsageError('score: --pairs takes images only, not --video');
  if (!texts.length) throw new UsageError('score: no text given (--text TXT)');
  if (args.flag('pairs') && images.length !== texts.length)
    throw new UsageError(`score: --pairs needs as many images as texts, got ${images.length} images and ${texts.length} texts`);
  return { images, labels: images, texts };
}

function pairTable(rows: { image: string; text: string; itm?: number; itc?: number }[]): string {
  return rows
    .map((r) => {
      const parts: string[] = [];
      if (r.itm !== undefined) parts.push(`itm ${r.itm.toFixed(4)}`);
      if (r.itc !== undefined) parts.push(`itc ${r.itc.toFixed(4)}`);
      return `${parts.join('  ')}  ${r.image}  ${JSON.stringify(r.text)}\n`;
    })
    .join('');
}

function scoreTable(images: string[], texts: string[], result: { itm?: number[][]; itc?: number[][] }): string {
  const lines: string[] = [];
  images.forEach((image, i) => {
    lines.push(image);
    texts.forEach((text, j) => {
      const parts: string[] = [];
      if (result.itm) parts.push(`itm ${result.itm[i][j].toFixed(4)}`);
      if (result.itc) parts.push(`itc ${result.itc[i][j].toFixed(4)}`);
      lines.push(`  ${parts.join('  ')}  ${JSON.stringify(text)}`);
    });
  });
  return lines.join('\n') + '\n';
}

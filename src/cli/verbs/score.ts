import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { ImageArgumentError, imageInputs } from '../io';
import { loadModel, textsFrom } from '../load';

export const score: Command = {
  name: 'score',
  summary: 'Scores every image against every text: ITM match probability and/or ITC cosine similarity.',
  usage: 'score --model DIR|HUB_ID --image IMG... --text TXT... [--mode itm|itc|both] [--json]',
  options: {
    ...MODEL_OPTIONS,
    image: {
      type: 'string',
      multiple: true,
      arg: 'IMG',
      help: 'image files (JPEG or PNG), several after one flag or the flag repeated; - reads one from standard input',
    },
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'text to match; repeat for several (an empty string is a valid text)' },
    'texts-file': { type: 'string', arg: 'FILE', help: 'more texts, one per line' },
    mode: { type: 'string', arg: 'MODE', help: 'itm (match probability), itc (cosine) or both (default)' },
    'max-length': { type: 'string', arg: 'N', help: 'truncate texts to N tokens (BLIP retrieval uses 35; default: no truncation)' },
    'enc-token': { type: 'boolean', help: "put [ENC] at position 0 of the ITM input, as BLIP's retrieval evaluation does" },
    json: { type: 'boolean', help: 'print {"itm": [[...]], "itc": [[...]]} (rows = images, columns = texts)' },
  },
  async run(args) {
    const mode = args.string('mode') ?? 'both';
    if (!['itm', 'itc', 'both'].includes(mode)) throw new UsageError(`score: --mode must be itm, itc or both, got "${mode}"`);
    const images = args.strings('image');
    const texts = textsFrom(args);
    if (!images.length) throw new UsageError('score: no image given (--image IMG)');
    if (!texts.length) throw new UsageError('score: no text given (--text TXT)');
    const inputs = await imageInputs(images, 'score').catch((e) => {
      throw e instanceof ImageArgumentError ? new UsageError(e.message) : e;
    });
    const model = await loadModel(args);
    try {
      const opts = { maxLength: args.integer('max-length'), encToken: args.flag('enc-token') };
      const embeddings = await model.encodeImages(inputs);
      const result: { itm?: number[][]; itc?: number[][] } = {};
      try {
        if (mode !== 'itc') result.itm = (await model.match(embeddings, texts, opts)).probs;
        if (mode !== 'itm') result.itc = await model.similarity(embeddings, texts, opts);
      } finally {
        embeddings.forEach((e) => e.dispose());
      }
      if (args.flag('json')) {
        process.stdout.write(JSON.stringify(result) + '\n');
      } else {
        process.stdout.write(scoreTable(images, texts, result));
      }
    } finally {
      model.dispose();
    }
  },
};

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

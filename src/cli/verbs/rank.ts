import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { ImageArgumentError, imageInputs } from '../io';
import { loadModel, textsFrom } from '../inputs';
import { StatusLine } from '../progress';
import { rankTexts } from '../../retrieval';
import { RETRIEVAL_OPTIONS, resultTable, retrievalOptions } from './search';

export const rank: Command = {
  name: 'rank',
  summary: 'Ranks captions for one image: ITC shortlist, re-ranked by ITM match probability.',
  usage: 'rank --model DIR|HUB_ID --image IMG --texts-file FILE [--text TXT...] [--rerank K] [--top-k N] [--json]',
  options: {
    ...MODEL_OPTIONS,
    image: { type: 'string', arg: 'IMG', help: 'image file (JPEG or PNG); - reads it from standard input' },
    'texts-file': { type: 'string', arg: 'FILE', help: 'candidate captions, one per line' },
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'a candidate caption; repeat for several' },
    ...RETRIEVAL_OPTIONS,
  },
  details: '--json prints [{"text": caption, "itc": cosine, "itm": probability}, ...] (no "itm" with --rerank 0).',
  async run(args) {
    const image = args.required('image');
    const texts = textsFrom(args);
    if (!texts.length) throw new UsageError('rank: no caption given (--texts-file FILE or --text TXT)');
    const [input] = await imageInputs([image], 'rank').catch((e) => {
      throw e instanceof ImageArgumentError ? new UsageError(e.message) : e;
    });
    const opts = retrievalOptions(args, 'rank');
    const status = StatusLine.forStderr(args.flag('quiet'));
    const model = await loadModel(args, status);
    try {
      status.stage(`ranking ${texts.length} captions…`);
      const ranked = await rankTexts(model, input, texts, opts);
      status.clear();
      if (args.flag('json')) {
        const rows = ranked.map((r) => (r.itm === undefined ? { text: r.text, itc: r.itc } : { text: r.text, itc: r.itc, itm: r.itm }));
        process.stdout.write(JSON.stringify(rows) + '\n');
      } else {
        process.stdout.write(resultTable(ranked.map((r) => ({ itc: r.itc, itm: r.itm, label: JSON.stringify(r.text) }))));
      }
    } finally {
      model.dispose();
    }
  },
};

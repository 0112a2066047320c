import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { ImageArgumentError, imageInputs } from '../io';
import { loadModel, textsFrom } from '../inputs';
import { VIDEO_DECODE_OPTIONS, checkVideoFiles, encodeVideoArgs, videoSettings } from '../video';
import { StatusLine } from '../progress';
import { rankTexts } from '../../retrieval';
import { RETRIEVAL_OPTIONS, resultTable, retrievalOptions } from './search';

export const rank: Command = {
  name: 'rank',
  summary: 'Ranks captions for one image or video: ITC shortlist, re-ranked by ITM match probability.',
  usage: 'rank --model DIR|HUB_ID (--image IMG | --video V) --texts-file FILE [--text TXT...] [--rerank K] [--top-k N] [--json]',
  options: {
    ...MODEL_OPTIONS,
    image: { type: 'string', arg: 'IMG', help: 'image file (JPEG or PNG); - reads it from standard input' },
    video: { type: 'string', arg: 'V', help: "a video file instead of an image (BLIP's video protocol)" },
    ...VIDEO_DECODE_OPTIONS,
    'texts-file': { type: 'string', arg: 'FILE', help: 'candidate captions, one per line' },
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'a candidate caption; repeat for several' },
    ...RETRIEVAL_OPTIONS,
  },
  details: '--json prints [{"text": caption, "itc": cosine, "itm": probability}, ...] (no "itm" with --rerank 0).',
  async run(args) {
    const video = args.string('video');
    const image = video === undefined ? args.required('image') : args.string('image');
    if (video !== undefined && image !== undefined) throw new UsageError('rank: give --image or --video, not both');
    const texts = textsFrom(args);
    if (!texts.length) throw new UsageError('rank: no caption given (--texts-file FILE or --text TXT)');
    const [input] =
      image === undefined
        ? []
        : await imageInputs([image], 'rank').catch((e) => {
            throw e instanceof ImageArgumentError ? new UsageError(e.message) : e;
          });
    if (video !== undefined) {
      videoSettings(args, 'rank');
      checkVideoFiles([video]);
    }
    const opts = retrievalOptions(args, 'rank');
    const status = StatusLine.forStderr(args.flag('quiet'));
    const model = await loadModel(args, status);
    try {
      const [embedding] = video === undefined ? [undefined] : await encodeVideoArgs(model, [video], args, 'rank');
      status.stage(`ranking ${texts.length} captions…`);
      let ranked;
      try {
        ranked = await rankTexts(model, embedding ?? input, texts, opts);
      } finally {
        embedding?.dispose();
        status.clear();
      }
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

import { Command, MODEL_OPTIONS, UsageError, VISION_BATCH_OPTION } from '../command';
import { loadModel } from '../inputs';
import { FilterInterrupted, runFilter } from '../../filter';
import { FilterProgressDisplay, summaryLines } from '../../filter/progress';
import { Shard, parseShard } from '../../retrieval/shard';
import { withInterrupts } from './index-cmd';

export const filter: Command = {
  name: 'filter',
  summary: "Filters image-caption pairs with the ITM head (BLIP's CapFilt) into Parquet: WebDataset tars or JSONL/CSV/Parquet tables.",
  usage: 'filter --model DIR|HUB_ID --out DIR [--threshold 0.5] [--shard i/N] [--batch N] [--write-kept DIR] INPUT...',
  positionals:
    'INPUT...: WebDataset tars (KEY.jpg|jpeg|png + KEY.txt), folders or globs of them, or JSONL, CSV or Parquet tables (image path relative to the table, caption).',
  options: {
    ...MODEL_OPTIONS,
    ...VISION_BATCH_OPTION,
    out: { type: 'string', arg: 'DIR', help: 'output folder: part-0000i-of-0000N.parquet per shard (resumable: rerun to finish)' },
    threshold: { type: 'string', arg: 'P', help: 'keep a caption when itm_prob >= P (default 0.5, as BLIP CapFilt)' },
    shard: { type: 'string', arg: 'i/N', help: 'take only part i of N of the samples (by a hash of the key): N processes fill one --out' },
    batch: { type: 'string', arg: 'N', help: 'images per batch and per commit (default 8)' },
    'write-kept': { type: 'string', arg: 'DIR', help: 'also write the kept samples as WebDataset tars (original bytes and keys) into DIR' },
    'image-col': { type: 'string', arg: 'NAME', help: 'table column with the image path (default image)' },
    'caption-col': {
      type: 'string',
      arg: 'NAME',
      help: 'table column with the caption or a list of captions (default caption, else text)',
    },
    'key-col': { type: 'string', arg: 'NAME', help: 'table column with the key (default key when present, else the image path)' },
    'max-length': { type: 'string', arg: 'N', help: "truncate captions to N tokens (default: the model's maximum, 512)" },
    'max-bytes': {
      type: 'string',
      arg: 'N',
      help: 'largest image or tar member read, in bytes (default 67108864); larger ones are error rows',
    },
    decoders: { type: 'string', arg: 'N', help: 'image decoding threads beside the model (default: cores - 1, at most 4; 0: none)' },
    'progress-every': { type: 'string', arg: 'SEC', help: 'seconds between progress lines when stderr is not a terminal (default 30)' },
    strict: { type: 'boolean', help: 'exit 1 when any sample is an error row (they are written either way)' },
    restart: { type: 'boolean', help: "discard this shard's earlier (finished or unfinished) work in --out instead of resuming it" },
  },
  details: [
    'Every caption gives one row: key, caption, caption_index, itm_prob, itm_logit, itc, keep, error, source,',
    'model_fingerprint (docs/filter.md). Bad samples (undecodable or oversized image, missing or non-UTF-8',
    'caption, a tar member without its pair) are rows with error set and keep false; they never stop the job.',
    'Rows are committed every batch: after Ctrl-C, SIGTERM or a kill, the same command finishes the work',
    'without repeating or losing a sample; run on a finished shard it adds nothing.',
  ].join('\n'),
  async run(args) {
    const out = args.required('out');
    if (!args.positionals.length) throw new UsageError('filter: no INPUT given (tars, folders, globs or tables)');
    const threshold = args.number('threshold', 0.5) as number;
    if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`filter: --threshold must be 0..1, got ${threshold}`);
    let shard: Shard | undefined;
    const shardText = args.string('shard');
    if (shardText !== undefined) {
      try {
        shard = parseShard(shardText);
      } catch (e) {
        throw new UsageError(`filter: --${(e as Error).message}`);
      }
    }
    const batchSize = args.bounded('batch', 1, 4096);
    const visionBatch = args.visionBatch();
    const maxBytes = args.bounded('max-bytes', 1, Number.MAX_SAFE_INTEGER);
    const decoders = args.bounded('decoders', 0, 64);
    const every = args.bounded('progress-every', 1, 86400);
    const model = await loadModel(args);
    const display = new FilterProgressDisplay(process.stderr, every);
    try {
      await withInterrupts(
        (signal) => {
          display.break();
          process.stderr.write(`blip-itm: ${signal}; committing the batch in flight (send it again to quit at once)\n`);
        },
        async (signal) => {
          try {
            const report = await runFilter(model, args.positionals, {
              out,
              threshold,
              shard,
              batchSize,
              visionBatch,
              writeKept: args.string('write-kept'),
              columns: { image: args.string('image-col'), caption: args.string('caption-col'), key: args.string('key-col') },
              maxBytes,
              maxLength: args.integer('max-length'),
              decoders,
              restart: args.flag('restart'),
              signal,
              onProgress: display.update,
            });
            display.break();
            process.stderr.write(summaryLines(report, threshold).join('\n') + '\n');
            if (args.flag('strict') && report.errors > 0) {
              process.stderr.write(`blip-itm: filter: ${report.errors} error rows (--strict)\n`);
              process.exitCode = 1;
            }
          } catch (e) {
            display.break();
            if (!(e instanceof FilterInterrupted)) throw e;
            process.stderr.write(`blip-itm: ${out}: ${e.message}\n`);
          }
        },
      );
    } finally {
      model.dispose();
    }
  },
};

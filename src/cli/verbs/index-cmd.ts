import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { loadModel } from '../load';
import { IndexInterrupted, STATES_STORAGES, StatesStorage, buildIndex } from '../../retrieval';
import { IndexProgressBar, summaryLine } from '../../retrieval/progress';

export const indexCommand: Command = {
  name: 'index',
  summary: 'Indexes a folder of images for text search (incremental: unchanged images are not encoded again).',
  usage: 'index --model DIR|HUB_ID --out INDEX [--states float32|float16|none] [--hash] [--rebuild] PATH...',
  positionals: 'PATH...: image files and folders (searched recursively for .jpg, .jpeg and .png; hidden entries skipped).',
  options: {
    ...MODEL_OPTIONS,
    out: { type: 'string', arg: 'INDEX', help: 'index folder to create or update' },
    states: { type: 'string', arg: 'HOW', help: 'store image states for re-ranking as float32 (default; exact), float16 (half the size) or none (smallest; search re-encodes its candidates)' },
    hash: { type: 'boolean', help: 'also compare file contents (sha256) of files whose size and mtime did not change' },
    rebuild: { type: 'boolean', help: 'start afresh, e.g. when the index was made with another model' },
  },
  details: [
    'The index then holds exactly the images under PATH...: new and changed files are encoded, removed',
    'ones dropped. Unreadable images are reported and skipped. Ctrl-C saves the work done so far (exit 130).',
    'With float32 states an image takes about 1.8 MB for the base model (577 tokens x 768); see docs/retrieval-scale.md.',
  ].join('\n'),
  async run(args) {
    const out = args.required('out');
    const paths = args.positionals;
    if (!paths.length) throw new UsageError('index: no PATH given (image files or folders)');
    const states = args.string('states');
    if (states !== undefined && !STATES_STORAGES.includes(states as StatesStorage)) {
      throw new UsageError(`index: --states must be ${STATES_STORAGES.join(', ')}, got "${states}"`);
    }
    const model = await loadModel(args);
    const bar = new IndexProgressBar(process.stderr);
    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) process.exit(130); // a second Ctrl-C: stop at once (the index stays valid)
      bar.break();
      process.stderr.write('blip-itm: interrupted; saving the images indexed so far (Ctrl-C again to quit at once)\n');
      abort.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const report = await buildIndex(model, out, paths, {
        states: states as StatesStorage | undefined,
        hash: args.flag('hash'),
        rebuild: args.flag('rebuild'),
        signal: abort.signal,
        onProgress: bar.update,
        onWarning: (message) => { bar.break(); process.stderr.write(`blip-itm: ${message}\n`); },
      });
      bar.break();
      process.stderr.write(`${summaryLine(out, report)}\n`);
    } catch (e) {
      bar.break();
      if (!(e instanceof IndexInterrupted)) throw e;
      process.stderr.write(`blip-itm: ${out}: ${e.message}\n`);
      process.exitCode = 130;
    } finally {
      process.off('SIGINT', onSigint);
      model.dispose();
    }
  },
};

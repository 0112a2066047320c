import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { loadModel } from '../inputs';
import { VIDEO_DECODE_OPTIONS, videoSettings } from '../video';
import { FORMAT_VERSION, IndexInterrupted, STATES_STORAGES, Shard, StatesStorage, buildIndex, parseShard } from '../../retrieval';
import { IndexProgressBar, summaryLine } from '../../retrieval/progress';

/** Exit codes of a process stopped by a signal, as shells report them. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs `work` with SIGINT and SIGTERM turned into an abort: the first saves what was done and
 * ends with 130 / 143; a second stops at once (everything committed stays valid).
 */
export async function withInterrupts<T>(onFirst: (signal: string) => void, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let received = '';
  const handler = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(SIGNAL_EXIT[signal] ?? 1);
    received = signal;
    onFirst(signal);
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await work(abort.signal);
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    if (received) process.exitCode = SIGNAL_EXIT[received] ?? 1;
  }
}

export const indexCommand: Command = {
  name: 'index',
  summary: 'Indexes images and videos for text search into a LanceDB table (incremental: unchanged files are not encoded again).',
  usage: 'index --model DIR|HUB_ID --out PATH|URI [--states float32|float16] [--frames N] [--shard i/N] [--hash] [--rebuild] PATH...',
  positionals:
    'PATH...: image and video files and folders (searched recursively for .jpg, .jpeg, .png and .mp4, .m4v, .mov, .mkv, .webm, .avi, .mpg, .mpeg, .ogv, .wmv; hidden entries skipped).',
  options: {
    ...MODEL_OPTIONS,
    out: {
      type: 'string',
      arg: 'PATH|URI',
      help: 'the index: a local folder, or an object store URI LanceDB supports (s3://bucket/path, gs://, az://)',
    },
    states: {
      type: 'string',
      arg: 'HOW',
      help: 'store image states for re-ranking as float32 (default; exact) or float16 (half the size); fixed when the index is created',
    },
    shard: {
      type: 'string',
      arg: 'i/N',
      help: 'encode only part i of N of the images (by a hash of the path): N writers, on one machine or several, fill one index at once',
    },
    'checkpoint-every': { type: 'string', arg: 'N', help: 'commit after every N encoded images (default 64; also every 30 s)' },
    hash: { type: 'boolean', help: 'also compare file contents (sha256) of files whose size and mtime did not change' },
    rebuild: { type: 'boolean', help: 'start afresh, e.g. when the index was made with another model' },
    ...VIDEO_DECODE_OPTIONS,
  },
  details: [
    'The index then holds exactly the images and videos under PATH... (of its shard): new and changed files',
    'are encoded, removed ones dropped. Unreadable images and videos are reported and skipped. Ctrl-C or',
    'SIGTERM commits the work done so far (exit 130 / 143); a killed run loses at most its uncommitted files.',
    'Large tables (50,000 rows and more) get an IVF-PQ vector index for search. With float32 states an image',
    'takes about 1.8 MB for the base model (577 tokens x 768); see docs/retrieval-scale.md. A video is encoded',
    'as score --video encodes it (--frames sampled, 8 by default, fixed per index) and stores every sampled',
    "frame's states: 8 x 1.8 MB. Videos need ffmpeg; see docs/video.md.",
  ].join('\n'),
  async run(args) {
    const out = args.required('out');
    const paths = args.positionals;
    if (!paths.length) throw new UsageError('index: no PATH given (image files or folders)');
    const states = args.string('states');
    if (states !== undefined && !STATES_STORAGES.includes(states as StatesStorage)) {
      throw new UsageError(`index: --states must be ${STATES_STORAGES.join(' or ')}, got "${states}"`);
    }
    let shard: Shard | undefined;
    const shardText = args.string('shard');
    if (shardText !== undefined) {
      try {
        shard = parseShard(shardText);
      } catch (e) {
        throw new UsageError(`index: --${(e as Error).message}`);
      }
    }
    const { decoder } = videoSettings(args, 'index'); // bad --frames / --max-frames: usage errors before the model loads
    const frames = args.string('frames') === undefined ? undefined : videoSettings(args, 'index').frames;
    const every = args.integer('checkpoint-every');
    if (every !== undefined && every < 1) throw new UsageError(`index: --checkpoint-every must be 1 or more, got ${every}`);
    const model = await loadModel(args);
    const bar = new IndexProgressBar(process.stderr);
    try {
      await withInterrupts(
        (signal) => {
          bar.break();
          process.stderr.write(`blip-itm: ${signal}; saving the images indexed so far (send it again to quit at once)\n`);
        },
        async (signal) => {
          try {
            const report = await buildIndex(model, out, paths, {
              states: states as StatesStorage | undefined,
              hash: args.flag('hash'),
              rebuild: args.flag('rebuild'),
              shard,
              frames,
              videoDecoder: decoder,
              checkpointEvery: every,
              signal,
              onProgress: bar.update,
              onWarning: (message) => {
                bar.break();
                process.stderr.write(`blip-itm: ${message}\n`);
              },
            });
            bar.break();
            if (report.upgradedFrom) {
              process.stderr.write(
                `blip-itm: ${out}: upgraded from format ${report.upgradedFrom} to ${FORMAT_VERSION} to hold videos (releases before it cannot read it)\n`,
              );
            }
            process.stderr.write(`${summaryLine(out, report)}\n`);
          } catch (e) {
            bar.break();
            if (!(e instanceof IndexInterrupted)) throw e;
            process.stderr.write(`blip-itm: ${out}: ${e.message}\n`);
          }
        },
      );
    } finally {
      model.dispose();
    }
  },
};

import { BackendName } from '../../node/backend';
import { runBench } from '../../bench';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { modelSource, threadsFrom } from '../inputs';

export const bench: Command = {
  name: 'bench',
  summary: 'Times loading, image encoding, ITM and ITC on this machine; prints one JSON line of medians.',
  usage: 'bench --model DIR --image IMG [--runs N] [--backend NAME] [--threads N] [--json]',
  options: {
    ...MODEL_OPTIONS,
    image: { type: 'string', arg: 'IMG', help: 'image file (JPEG or PNG) to encode' },
    runs: { type: 'string', arg: 'N', help: 'timed runs after one warm-up run (default 3)' },
    json: { type: 'boolean', help: 'print only the JSON line (no per-run progress on stderr)' },
  },
  details: [
    'Keys (seconds, medians): load_s (directory to ready model), image_s (encode one image),',
    'itm1_s (one image file and one text, encoding included), itm16_s (one encoded image against',
    '16 built-in captions), text16_s (ITC embeddings of those captions); rss_mb (peak RSS, MiB);',
    "backend, threads (wasm's pool; 0 where the backend runs its own) and device (cpu, or the GPU adapter).",
    'scripts/bench/model.py measures the same quantities with transformers.',
  ].join('\n'),
  async run(args) {
    const image = args.string('image');
    if (!image) throw new UsageError('bench: --image IMG is required');
    const runs = args.integer('runs', 3) as number;
    if (runs < 1) throw new UsageError('bench: --runs must be at least 1');
    const quiet = args.flag('json');
    const result = await runBench({
      model: modelSource(args),
      image,
      runs,
      backend: (args.string('backend') ?? 'auto') as BackendName,
      threads: threadsFrom(args),
      onRun: quiet
        ? undefined
        : (i, t, warm) => {
            const parts = Object.entries(t)
              .map(([k, v]) => `${k} ${v.toFixed(2)}`)
              .join('  ');
            process.stderr.write(`${warm ? 'warm-up' : `run ${i}`}: ${parts}\n`);
          },
    });
    process.stdout.write(JSON.stringify(result) + '\n');
  },
};

import { VideoRecalls, evaluateVideos, loadVideoEvalSet } from '../eval';
import { ParsedArgs, UsageError } from './command';
import { loadModel } from './inputs';
import { checkVideoFiles, videoSettings } from './video';

const KEYS: (keyof VideoRecalls)[] = [
  'txt_r1',
  'txt_r5',
  'txt_r10',
  'txt_r_mean',
  'vid_r1',
  'vid_r5',
  'vid_r10',
  'vid_r_mean',
  'vid_mdR',
  'r_mean',
];

/** `eval --videos DIR`: BLIP's zero-shot video retrieval evaluation (src/eval/video-evaluate). */
export async function evalVideosVerb(args: ParsedArgs): Promise<void> {
  const annotations = args.required('annotations');
  const dir = args.required('videos');
  if (args.string('images') !== undefined) throw new UsageError('eval: give --images or --videos, not both');
  if (args.string('index') !== undefined) throw new UsageError('eval: --index applies to images; videos are encoded in memory');
  const kTest = args.integer('k-test', 128) as number;
  if (kTest < 1) throw new UsageError(`eval: --k-test must be 1 or more, got ${kTest}`);
  const { decoder, frames } = videoSettings(args, 'eval');
  const set = loadVideoEvalSet(annotations, dir);
  checkVideoFiles(set.images);
  const model = await loadModel(args);
  try {
    const tty = process.stderr.isTTY;
    const result = await evaluateVideos(model, set, {
      kTest,
      frames,
      decoder,
      onProgress: (stage, done, total) => {
        if (tty)
          process.stderr.write(
            `\r${stage === 'videos' ? 'encoding videos' : 'ITM re-scoring'} ${done}/${total}${done === total ? '\n' : ''}`,
          );
      },
    });
    const r = result.recalls;
    if (args.flag('json')) {
      process.stdout.write(JSON.stringify(Object.fromEntries(KEYS.map((k) => [k, r[k]]))) + '\n');
    } else {
      const f = (x: number) => x.toFixed(2).padStart(6);
      process.stdout.write(
        [
          `${set.images.length} videos, ${set.texts.length} texts, ${frames} frames, k_test ${result.kTest}`,
          '             R@1     R@5    R@10    mean',
          `text (TR)  ${f(r.txt_r1)}  ${f(r.txt_r5)}  ${f(r.txt_r10)}  ${f(r.txt_r_mean)}`,
          `video (VR) ${f(r.vid_r1)}  ${f(r.vid_r5)}  ${f(r.vid_r10)}  ${f(r.vid_r_mean)}   MdR ${r.vid_mdR}`,
          `r_mean ${r.r_mean.toFixed(2)}`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    model.dispose();
  }
}

import * as fs from 'fs';
import { NodeBlipItm as BlipItm } from '../node/platform';
import { FfmpegDecoder } from '../node/video';
import { ImageEmbedding } from '../model/image-embedding';
import { DEFAULT_FRAMES, MAX_FRAMES } from '../video/sampling';
import { OptionSpec, ParsedArgs, UsageError } from './command';

/** The options every verb that reads videos shares (with --video itself defined per verb). */
export const VIDEO_DECODE_OPTIONS: Record<string, OptionSpec> = {
  frames: { type: 'string', arg: 'N', help: `frames sampled per video, as BLIP's np.arange(0, vlen, vlen/N) (default ${DEFAULT_FRAMES})` },
  ffmpeg: { type: 'string', arg: 'PATH', help: 'the ffmpeg executable, ffprobe beside it (default: $BLIP_ITM_FFMPEG, else on PATH)' },
  'max-frames': { type: 'string', arg: 'N', help: 'refuse videos of more frames than this (default 100000)' },
};

/** The decoder (frame pixels limited as images are: --max-pixels sets BLIP_ITM_MAX_PIXELS) and frame count the options ask for (usage errors for bad values). */
export function videoSettings(args: ParsedArgs, call: string): { decoder: FfmpegDecoder; frames: number } {
  const frames = args.bounded('frames', 1, MAX_FRAMES) ?? DEFAULT_FRAMES;
  const maxFrames = args.integer('max-frames');
  if (maxFrames !== undefined && maxFrames < 1) throw new UsageError(`${call}: --max-frames must be a positive integer, got ${maxFrames}`);
  return { decoder: new FfmpegDecoder({ ffmpeg: args.string('ffmpeg'), maxFrames }), frames };
}

/** Throws a one-line error unless every video path names a file. */
export function checkVideoFiles(videos: string[]): void {
  for (const v of videos) {
    if (!fs.existsSync(v)) throw new Error(`${v}: no such file`);
    if (!fs.statSync(v).isFile()) throw new Error(`${v}: not a file`);
  }
}

/** Encodes the videos named on the command line, in order (the caller disposes them). */
export function encodeVideoArgs(model: BlipItm, videos: string[], args: ParsedArgs, call: string): Promise<ImageEmbedding[]> {
  const { decoder, frames } = videoSettings(args, call);
  return model.encodeVideos(videos, { frames, decoder });
}

// Platform-neutral: the session reads videos through openVideo (Node: ffmpeg; browser: <video>).
import { RawImage } from '../image';
import { uniformFrameIndices } from '../video/sampling';
import { VideoDecoder, VideoDecoderUnavailable, VideoInput, VideoLimitError, openVideo } from '../video/source';
import { PreparedImage } from './prepare';
import { RequestError } from './request-error';

/** One sampled frame as the session keeps it: at the model's input size, and a small display copy. */
export type PreparedFrame = Pick<PreparedImage, 'modelInput' | 'display'>;

/**
 * A video as the session keeps it: only the sampled frames, each shrunk at once, so memory holds
 * `frames` small copies whatever the video's length and size.
 */
export interface PreparedVideo {
  /** Frame size of the video. */
  width: number;
  height: number;
  /** Frames in the video (BLIP's vlen). */
  frameCount: number;
  /** The frame number of each sampled frame, in sampling order (repeats when the video is shorter than the count). */
  sampled: number[];
  /** One per entry of `sampled` (a frame sampled twice is the same object twice). */
  frames: PreparedFrame[];
}

export interface VideoPrepareOptions {
  /** Frames to sample (encodeVideos' `frames`). */
  frames: number;
  /** Refuse videos with more frames than this. */
  maxLength: number;
  /** Refuse frames with more pixels than this. */
  maxPixels: number;
  decoder?: VideoDecoder;
  /** Shrinks one decoded frame (prepareFrame, in this thread or a worker's). */
  prepareFrame: (frame: RawImage, name: string) => Promise<PreparedImage>;
}

/**
 * Samples a video's frames as encodeVideos does and keeps model-input and display copies of them.
 * A decoder's refusal becomes a RequestError: 413 for a limit, 422 for an unreadable file.
 */
export async function prepareVideo(input: VideoInput, name: string, opts: VideoPrepareOptions): Promise<PreparedVideo> {
  const source = await refusing(() => openVideo(input, name, opts.decoder));
  try {
    const frameCount = await refusing(() => source.frameCount());
    if (frameCount > opts.maxLength) {
      throw new RequestError(413, `${name}: ${frameCount} frames; the inspector accepts videos of at most ${opts.maxLength} frames`);
    }
    const sampled = uniformFrameIndices(frameCount, opts.frames);
    const distinct = [...new Set(sampled)];
    const decoded = await refusing(() => source.readFrames(distinct));
    const kept = new Map<number, PreparedFrame>();
    let size = { width: 0, height: 0 };
    for (const [k, index] of distinct.entries()) {
      const frame = decoded[k];
      checkFramePixels(frame, name, opts.maxPixels);
      const { width, height, modelInput, display } = await opts.prepareFrame(frame, `${name} frame ${index}`);
      size = { width, height };
      kept.set(index, { modelInput, display });
      decoded[k] = EMPTY; // the full-size frame goes as soon as its copies exist
    }
    return { ...size, frameCount, sampled, frames: sampled.map((i) => kept.get(i) as PreparedFrame) };
  } finally {
    await source.close();
  }
}

const EMPTY: RawImage = { data: new Uint8Array(0), width: 0, height: 0, channels: 3 };

function checkFramePixels(frame: RawImage, name: string, max: number): void {
  if (frame.width * frame.height > max) {
    throw new RequestError(
      413,
      `${name}: frames of ${frame.width}x${frame.height} pixels; the inspector accepts at most ${max} pixels per frame`,
    );
  }
}

/**
 * Decoder errors are the client's file (unreadable, over a decoder's limit) unless the decoder
 * itself is missing, which is this machine's problem.
 */
async function refusing<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof RequestError) throw e;
    if (e instanceof VideoDecoderUnavailable) throw new RequestError(501, e.message);
    // Without the hint: it names the decoder's options, which an upload's sender cannot use.
    if (e instanceof VideoLimitError) throw new RequestError(413, e.reason);
    throw new RequestError(422, e instanceof Error ? e.message : String(e));
  }
}

import { RawImage } from '../image/types';
import { DEFAULT_FRAMES } from './sampling';

/**
 * A video being read: its frame count, then the sampled frames. Platform decoders implement it
 * (Node: ffmpeg/ffprobe in src/node/video.ts; browser: <video> + canvas in src/browser/video.ts).
 */
export interface VideoSource {
  /** For messages: the file name, or e.g. "video 2 (bytes)". */
  readonly name: string;
  /** True when frameCount() is an estimate, not a count (browser: a container it does not index). */
  readonly estimated?: boolean;
  /** The number of decoded frames (BLIP's `len(VideoReader)`), in presentation order. */
  frameCount(): Promise<number>;
  /** The frames at these distinct, ascending indices, in that order, as 8-bit pixels. */
  readFrames(indices: number[]): Promise<RawImage[]>;
  /** Frees what the source holds (temporary files, elements). */
  close(): Promise<void>;
}

/** Opens videos of the kinds a platform understands (a path, bytes, a Blob, ...). */
export interface VideoDecoder {
  /** A source for `input`, or a one-line error naming `name` when it cannot be read. */
  open(input: unknown, name: string): Promise<VideoSource>;
}

/**
 * A video: a path (Node) or URL (browser), the bytes of a file, a platform object the decoder
 * understands (browser: File, Blob, HTMLVideoElement), or every decoded frame of the video
 * ({ data, width, height, channels } each, all the same size, in order) for callers who decode it
 * themselves; frames are then sampled from that array as from a decoded file.
 */
export type VideoInput = string | Uint8Array | RawImage[] | object;

export interface VideoOptions {
  /** Frames sampled per video (BLIP's num_frm_test; default 8). */
  frames?: number;
  /** The decoder for paths and bytes (default: the platform's, see setDefaultVideoDecoder). */
  decoder?: VideoDecoder;
}

export { DEFAULT_FRAMES };

/** Videos announcing or counting more frames than this are refused (55 min at 30 fps); decoders take their own. */
export const DEFAULT_MAX_VIDEO_FRAMES = 100_000;

/**
 * A video over one of its decoder's limits (pixels per frame, frame count): the file's fault, not
 * the machine's. `reason` is the refusal; the message adds how a trusting caller raises the limit.
 */
export class VideoLimitError extends Error {
  constructor(
    readonly reason: string,
    readonly hint: string,
  ) {
    super(`${reason}; ${hint}`);
    this.name = 'VideoLimitError';
  }
}

/** No decoder can run here (none on this platform, or its tools are missing): the machine's problem, not the file's. */
export class VideoDecoderUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VideoDecoderUnavailable';
  }
}

let platformDecoder: VideoDecoder | undefined;

/** Set by the platform entry (Node: the ffmpeg decoder; browser: the <video> decoder). */
export function setDefaultVideoDecoder(decoder: VideoDecoder): void {
  platformDecoder = decoder;
}

/** The decoder for `input`: an array of frames needs none; anything else the given or the platform's. */
export function openVideo(input: VideoInput, name: string, decoder?: VideoDecoder): Promise<VideoSource> {
  if (Array.isArray(input)) return Promise.resolve(framesSource(input as RawImage[], name));
  const d = decoder ?? platformDecoder;
  if (!d)
    throw new VideoDecoderUnavailable(
      `${name}: no video decoder on this platform; pass the decoded frames ({ data, width, height, channels }[])`,
    );
  return d.open(input, name);
}

/** A source over frames already decoded (every frame of the video, in order). */
export function framesSource(frames: RawImage[], name: string): VideoSource {
  if (frames.length === 0) throw new Error(`${name}: no frames`);
  frames.forEach((f, i) => {
    const ok = f && typeof f === 'object' && (f.data instanceof Uint8Array || f.data instanceof Uint8ClampedArray);
    if (!ok || !Number.isInteger(f.width) || !Number.isInteger(f.height) || ![1, 2, 3, 4].includes(f.channels)) {
      throw new Error(`${name}: frame ${i} is not { data: Uint8Array, width, height, channels: 1..4 }`);
    }
    if (f.data.length !== f.width * f.height * f.channels) {
      throw new Error(`${name}: frame ${i} has ${f.data.length} bytes, expected ${f.width}x${f.height}x${f.channels}`);
    }
  });
  return {
    name,
    frameCount: () => Promise.resolve(frames.length),
    readFrames: (indices) => Promise.resolve(indices.map((i) => frames[i])),
    close: () => Promise.resolve(),
  };
}

/** A name for messages: the path, or the kind of input and its position. */
export function videoName(input: VideoInput, index: number, count: number): string {
  if (typeof input === 'string') return input;
  // A File (browser, or Node 20+) carries its file name: the best name for messages.
  const fileName = typeof input === 'object' && input !== null && 'name' in input ? (input as { name: unknown }).name : undefined;
  if (typeof fileName === 'string' && fileName !== '' && !Array.isArray(input)) return fileName;
  const kind = Array.isArray(input) ? 'frames' : input instanceof Uint8Array ? 'bytes' : 'object';
  return count === 1 ? `video (${kind})` : `video ${index} (${kind})`;
}

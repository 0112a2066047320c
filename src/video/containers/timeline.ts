import { VideoLimitError } from '../source';
import { ByteSource } from '../../weights/source';

/**
 * When each decoded frame of a video is shown, read from its container's index without decoding
 * anything: the browser's <video> tells neither the frame count nor frame times, and BLIP
 * samples frames by decoded-frame number, so the browser decoder counts them here.
 */
export interface FrameTimeline {
  /** The container read ("mp4" for MP4/MOV, "matroska" for WebM/MKV). */
  readonly container: string;
  /** Presentation time (seconds) of each frame, ascending: one entry per decoded frame. */
  readonly starts: number[];
  /** When the last frame stops being shown (seconds). */
  readonly end: number;
  /** The coded frame size the index states (checked against the pixel limit before decoding), if it does. */
  readonly size?: { width: number; height: number };
}

/** When frame `i` stops being shown: the next frame's start (the timeline's end for the last). */
export function frameEnd(timeline: FrameTimeline, i: number): number {
  return i + 1 < timeline.starts.length ? timeline.starts[i + 1] : timeline.end;
}

/** Thrown when a container is not one we read or its index is unusable; the message names no file. */
export class ContainerError extends Error {}

/** Thrown when an index lists more frames than the limit (before any table that size is built). */
export class FrameLimitError extends VideoLimitError {
  constructor(frames: number | undefined, maxFrames: number) {
    super(`${frames === undefined ? `more than ${maxFrames}` : frames} frames exceed the ${maxFrames}-frame limit`, FRAME_LIMIT_HINT);
  }
}

/** How a library caller raises the browser decoder's frame limit. */
const FRAME_LIMIT_HINT = 'raise maxFrames if the file is trusted';

/**
 * A ByteSource read through a window of consecutive bytes, so walking many small headers (one
 * per Matroska block) costs one read per window, not one per header.
 */
export class WindowedBytes {
  private start = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly source: ByteSource,
    private readonly windowBytes = 1 << 20,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Up to `length` bytes at `offset` (fewer at the end of the file). */
  async bytes(offset: number, length: number): Promise<Uint8Array> {
    const want = Math.max(0, Math.min(length, this.size - offset));
    const inWindow = offset >= this.start && offset + want <= this.start + this.window.length;
    if (!inWindow) {
      this.start = offset;
      this.window = await this.source.read(offset, Math.min(Math.max(want, this.windowBytes), this.size - offset));
    }
    return this.window.subarray(offset - this.start, offset - this.start + want);
  }
}

/// <reference lib="dom" />
import { resolveMaxPixels } from '../image/decode';
import { RawImage } from '../image/types';
import { ContainerError, FrameLimitError, FrameTimeline, READ_CONTAINERS, frameEnd, readFrameTimeline } from '../video/containers';
import { DEFAULT_MAX_VIDEO_FRAMES, VideoDecoder as BlipVideoDecoder, VideoLimitError, VideoSource } from '../video/source';
import { BlobSource } from './fetch';
import { MediaElement, checkPixels, estimateTimeline } from './video-element';

/** What the browser decoder accepts as a video. */
export type BrowserVideo = Blob | File | string | HTMLVideoElement | Uint8Array | ArrayBuffer;

export interface BrowserVideoOptions {
  /** Refuse frames with more pixels than this (default: the image limit, Pillow's 178,956,970). */
  maxPixels?: number;
  /** Refuse videos with more frames than this (default 100,000, as in Node). */
  maxFrames?: number;
  /** Give up on a fetch, a load or one seek after this many milliseconds (default 30,000). */
  timeoutMs?: number;
}

export const DEFAULT_VIDEO_TIMEOUT_MS = 30_000;

/**
 * Videos decoded by the browser (BLIP's frames, chosen by decoded-frame number as in Node):
 * the frame count and each frame's presentation time come from the container's own index
 * (src/video/containers: MP4/MOV sample tables, WebM/Matroska blocks), read from the bytes
 * without decoding; the browser's <video> then seeks to the middle of each sampled frame and a
 * canvas reads its pixels at the video's full size. Containers we cannot index (Ogg, AVI, ...)
 * get an estimate, duration / measured frame duration, flagged `estimated` on the source.
 * The pixels are the browser's: its decoder and YUV-to-RGB conversion are not bit-equal to
 * ffmpeg's, so scores differ slightly from Node's for the same file (docs/video.md).
 */
export class BrowserVideoDecoder implements BlipVideoDecoder {
  private readonly maxPixels: number;
  private readonly maxFrames: number;
  private readonly timeoutMs: number;

  constructor(opts: BrowserVideoOptions = {}) {
    this.maxPixels = resolveMaxPixels(opts.maxPixels);
    const maxFrames = opts.maxFrames ?? DEFAULT_MAX_VIDEO_FRAMES;
    if (!Number.isInteger(maxFrames) || maxFrames < 1) throw new RangeError(`maxFrames must be a positive integer, got ${maxFrames}`);
    this.maxFrames = maxFrames;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
  }

  async open(input: unknown, name: string): Promise<VideoSource> {
    const blob = await this.toBlob(input, name);
    return new BrowserVideoSource(name, blob, this.maxPixels, this.maxFrames, this.timeoutMs);
  }

  /** The file behind an input: a caller's <video> is never touched, its source is read again. */
  private async toBlob(input: unknown, name: string): Promise<Blob> {
    if (input instanceof Blob) return input;
    if (input instanceof ArrayBuffer) return new Blob([input]);
    if (input instanceof Uint8Array) return new Blob([input.slice()]);
    if (typeof input === 'string') return this.fetchBlob(input, name);
    if (typeof HTMLVideoElement !== 'undefined' && input instanceof HTMLVideoElement) {
      if (input.srcObject) throw new Error(`${name}: a <video> playing a stream (srcObject) has no file to read frames from`);
      const url = input.currentSrc || input.src;
      if (!url) throw new Error(`${name}: the <video> has no source`);
      return this.fetchBlob(url, name);
    }
    throw new Error(`${name}: a video in the browser must be a File, Blob, URL, <video> element or the bytes of a file`);
  }

  private async fetchBlob(url: string, name: string): Promise<Blob> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const res = await fetch(url, { signal: abort.signal });
      if (!res.ok) throw new Error(`${name}: HTTP ${res.status} ${res.statusText}`.trim());
      return await res.blob();
    } catch (e) {
      if (abort.signal.aborted) throw new Error(`${name}: fetching the video timed out after ${this.timeoutMs / 1000} s`, { cause: e });
      const message = (e as Error).message;
      if (message.startsWith(`${name}:`)) throw e;
      throw new Error(`${name}: cannot fetch the video (${message})`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One video: its timeline from the container, its frames from a <video> of our own. */
class BrowserVideoSource implements VideoSource {
  /** True when the frame count is an estimate (a container we cannot index). */
  estimated = false;
  private timeline?: FrameTimeline;
  private element?: MediaElement;
  /** Seconds from the container's timeline to the browser's, measured on the first frame read. */
  private offset = 0;
  private calibrated = false;

  constructor(
    readonly name: string,
    private readonly blob: Blob,
    private readonly maxPixels: number,
    private readonly maxFrames: number,
    private readonly timeoutMs: number,
  ) {}

  private async frameTimeline(): Promise<FrameTimeline> {
    if (this.timeline) return this.timeline;
    let timeline: FrameTimeline | null;
    try {
      timeline = await readFrameTimeline(new BlobSource(this.name, this.blob), this.maxFrames);
    } catch (e) {
      if (e instanceof ContainerError) throw new Error(`${this.name}: not a readable video (${e.message})`, { cause: e });
      if (e instanceof FrameLimitError) throw new VideoLimitError(`${this.name}: ${e.reason}`, e.hint);
      throw e;
    }
    if (!timeline) {
      const element = await this.media();
      timeline = await estimateTimeline(element, this.maxFrames);
      this.estimated = true;
    }
    if (timeline.starts.length > this.maxFrames) {
      const limit = new FrameLimitError(timeline.starts.length, this.maxFrames);
      throw new VideoLimitError(`${this.name}: ${limit.reason}`, limit.hint);
    }
    // Refused before the browser decodes anything when the index states the size (the
    // element checks the size it decodes too).
    if (timeline.size) checkPixels(this.name, timeline.size.width, timeline.size.height, this.maxPixels);
    this.timeline = timeline;
    return timeline;
  }

  private async media(): Promise<MediaElement> {
    if (!this.element) {
      this.element = new MediaElement(this.name, this.blob, this.timeoutMs);
      await this.element.load(this.maxPixels, READ_CONTAINERS);
    }
    return this.element;
  }

  async frameCount(): Promise<number> {
    return (await this.frameTimeline()).starts.length;
  }

  async readFrames(indices: number[]): Promise<RawImage[]> {
    const timeline = await this.frameTimeline();
    indices.forEach((v, k) => {
      if (!Number.isInteger(v) || v < 0 || v >= timeline.starts.length || (k > 0 && v <= indices[k - 1]))
        throw new Error('readFrames: indices must be distinct, ascending and below the frame count');
    });
    const element = await this.media();
    const frames: RawImage[] = [];
    for (const i of indices) frames.push(await this.readFrame(element, timeline, i));
    return frames;
  }

  /**
   * Frame `i`, seeked to its middle (either edge could show its neighbour). Where the browser
   * reports the shown frame's timestamp, it must lie inside frame i: the first frame read may
   * instead reveal that the browser's timeline is offset from the container's (a start time it
   * applies differently), which is then applied to every seek; after that a frame elsewhere (a
   * file whose index promises frames its data lacks) is refused.
   */
  private async readFrame(element: MediaElement, timeline: FrameTimeline, i: number): Promise<RawImage> {
    const seek = async () => {
      const start = timeline.starts[i] + this.offset;
      const end = frameEnd(timeline, i) + this.offset;
      const shown = await element.seek((start + end) / 2, i);
      // Frames sharing one timestamp cannot be told apart by seeking: the one shown is accepted.
      const slack = end > start ? Math.min(1e-3, (end - start) / 4) : 1e-3;
      const last = end > start ? end - slack : start + slack;
      return { start, shown, inside: shown === undefined || (shown >= start - slack && shown < last) };
    };
    let seen = await seek();
    if (!seen.inside && !this.calibrated) {
      this.offset = (seen.shown as number) - timeline.starts[i];
      seen = await seek();
    }
    this.calibrated = true;
    if (!seen.inside) {
      throw new Error(
        `${this.name}: frame ${i} (at ${seen.start.toFixed(3)} s) could not be decoded; the browser shows the frame at ${(seen.shown as number).toFixed(3)} s`,
      );
    }
    return element.pixels();
  }

  close(): Promise<void> {
    this.element?.close();
    this.element = undefined;
    return Promise.resolve();
  }
}

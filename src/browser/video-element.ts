/// <reference lib="dom" />
import { RawImage } from '../image/types';
import { FrameLimitError, FrameTimeline } from '../video/containers';
import { VideoLimitError } from '../video/source';

const MEDIA_ERRORS: Record<number, string> = {
  1: 'loading was aborted',
  2: 'a network error',
  3: 'a decoding error',
  4: 'format or codec not supported',
};
/** How long to wait for the frame callback after `seeked` before reading the canvas anyway. */
const FRAME_CALLBACK_GRACE_MS = 1000;
/** Frames watched while playing to measure the frame duration of a container we cannot index. */
const MEASURED_FRAMES = 12;

interface FrameMetadata {
  mediaTime: number;
}
/** requestVideoFrameCallback (Chromium, Safari; Firefox 132+), typed here for older DOM typings. */
interface FrameCallbacks {
  requestVideoFrameCallback(callback: (now: number, metadata: FrameMetadata) => void): number;
  cancelVideoFrameCallback(handle: number): void;
}

function hasFrameCallbacks(video: HTMLVideoElement): video is HTMLVideoElement & FrameCallbacks {
  return 'requestVideoFrameCallback' in video;
}

/**
 * A <video> of our own on an object URL of the file (never the caller's element, whose playback
 * is left alone), seeked frame by frame and read through a canvas at the video's full size.
 */
export class MediaElement {
  private readonly video: HTMLVideoElement;
  private readonly url: string;
  private context?: OffscreenCanvasRenderingContext2D;

  constructor(
    readonly name: string,
    blob: Blob,
    private readonly timeoutMs: number,
  ) {
    this.url = URL.createObjectURL(blob);
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.preload = 'auto';
  }

  get duration(): number {
    return this.video.duration;
  }

  /** Loads the first frame; refuses what the browser cannot decode and frames over the pixel limit. */
  async load(maxPixels: number, indexedContainers: string): Promise<void> {
    const loaded = this.until('loadeddata', 'loading the video', indexedContainers);
    this.video.src = this.url;
    await loaded;
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) throw new Error(`${this.name}: the browser shows no video track in it`);
    checkPixels(this.name, width, height, maxPixels);
  }

  /**
   * Seeks to `time` (seconds) and waits until the frame there can be drawn; resolves with that
   * frame's own timestamp where the browser reports it (requestVideoFrameCallback).
   */
  async seek(time: number, index: number): Promise<number | undefined> {
    const shown = this.nextFrameTime();
    const seeked = this.until('seeked', `seeking to frame ${index} (${time.toFixed(3)} s)`);
    this.video.currentTime = time;
    await seeked;
    return shown;
  }

  /** The presentation time of the next frame the element presents, or undefined when unknown. */
  private nextFrameTime(): Promise<number | undefined> {
    const video = this.video;
    if (!hasFrameCallbacks(video)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const handle = video.requestVideoFrameCallback((_now, metadata) => {
        clearTimeout(timer);
        resolve(metadata.mediaTime);
      });
      // Started when the seek is done: some browsers call back only for frames they composite.
      video.addEventListener(
        'seeked',
        () => {
          timer = setTimeout(() => {
            video.cancelVideoFrameCallback(handle);
            resolve(undefined);
          }, FRAME_CALLBACK_GRACE_MS);
        },
        { once: true },
      );
    });
  }

  /** The frame shown now, as RGBA pixels at the video's full size. */
  pixels(): RawImage {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!this.context || this.context.canvas.width !== width || this.context.canvas.height !== height) {
      const context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
      if (!context) throw new Error(`${this.name}: cannot get a 2-D canvas context to read the frames`);
      this.context = context;
    }
    this.context.drawImage(this.video, 0, 0, width, height);
    const image = this.context.getImageData(0, 0, width, height);
    return { data: image.data, width, height, channels: 4 };
  }

  /**
   * The frame duration of a file we cannot index, from the timestamps of frames the browser
   * presents while playing it muted (the smallest step between two: frames dropped while
   * playing only make steps longer).
   */
  async measureFrameDuration(): Promise<number> {
    const video = this.video;
    if (!hasFrameCallbacks(video)) {
      throw new Error(`${this.name}: cannot count the frames of this container in this browser (no requestVideoFrameCallback)`);
    }
    const times: number[] = [];
    const watched = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: timed out after ${this.timeoutMs / 1000} s measuring the frame rate`)),
        this.timeoutMs,
      );
      const stop = () => {
        clearTimeout(timer);
        video.removeEventListener('ended', stop);
        resolve();
      };
      video.addEventListener('ended', stop);
      const onFrame = (_now: number, metadata: FrameMetadata) => {
        times.push(metadata.mediaTime);
        if (times.length >= MEASURED_FRAMES) stop();
        else video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    });
    await video.play();
    try {
      await watched;
    } finally {
      video.pause();
    }
    const steps = times
      .slice(1)
      .map((t, k) => t - times[k])
      .filter((d) => d > 1e-6);
    if (steps.length === 0) throw new Error(`${this.name}: cannot measure the frame rate (too few frames presented)`);
    return Math.min(...steps);
  }

  /** Waits for `event`; the element's error event or the time-out reject with one line naming the video. */
  private until(event: string, doing: string, indexedContainers?: string): Promise<void> {
    const video = this.video;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        video.removeEventListener(event, done);
        video.removeEventListener('error', failed);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const failed = () => {
        cleanup();
        const error = video.error;
        const why = error ? error.message || MEDIA_ERRORS[error.code] || `media error ${error.code}` : 'unknown error';
        const hint = indexedContainers ? `; frames are counted in ${indexedContainers} files` : '';
        reject(new Error(`${this.name}: not a video this browser can decode (${why}${hint})`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: timed out after ${this.timeoutMs / 1000} s ${doing}`));
      }, this.timeoutMs);
      video.addEventListener(event, done);
      video.addEventListener('error', failed);
    });
  }

  /** Stops loading and frees the object URL. */
  close(): void {
    this.video.removeAttribute('src');
    this.video.load();
    URL.revokeObjectURL(this.url);
    this.context = undefined;
  }
}

/** Refuses frames over the pixel limit, in one line naming the video. */
export function checkPixels(name: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new VideoLimitError(
      `${name}: frames of ${width}x${height} = ${width * height} pixels exceed the ${maxPixels}-pixel limit`,
      'raise maxPixels if the file is trusted',
    );
  }
}

/**
 * A timeline for a container we cannot index: duration / measured frame duration frames,
 * evenly spaced. An estimate, not a count: it can differ from ffmpeg's by a frame or more.
 */
export async function estimateTimeline(element: MediaElement, maxFrames: number): Promise<FrameTimeline> {
  const duration = element.duration;
  if (!Number.isFinite(duration) || duration <= 0)
    throw new Error(`${element.name}: the video reports no duration to estimate its frame count from`);
  const step = await element.measureFrameDuration();
  const count = Math.max(1, Math.round(duration / step));
  if (count > maxFrames) {
    const limit = new FrameLimitError(count, maxFrames);
    throw new VideoLimitError(`${element.name}: about ${limit.reason}`, limit.hint);
  }
  return { container: 'estimate', starts: Array.from({ length: count }, (_, i) => i * step), end: duration };
}

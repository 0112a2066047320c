/**
 * Node: videos decoded by the system's ffmpeg and ffprobe (Debian's `ffmpeg` package, Homebrew,
 * ...). ffprobe reads the header (limits checked before any decoding), then counts the decoded
 * frames exactly (`-count_frames`: BLIP's vlen); ffmpeg then decodes to rgb24 at full
 * resolution and its `select` filter passes only the sampled frames, stopping after the last one,
 * so memory holds the sampled frames and nothing more. Frames are numbered in presentation order
 * as the decoder outputs them, one per decoded frame whatever their timestamps
 * (`-fps_mode passthrough`): a variable-frame-rate video is sampled by frame number, not time.
 * The rotation tag is ignored (`-noautorotate`), as BLIP's decord did.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveMaxPixels } from '../image/decode';
import { RawImage } from '../image/types';
import {
  DEFAULT_MAX_VIDEO_FRAMES,
  VideoDecoder,
  VideoDecoderUnavailable,
  VideoLimitError,
  VideoSource,
  setDefaultVideoDecoder,
} from '../video/source';

export interface FfmpegOptions {
  /** The ffmpeg executable (default: $BLIP_ITM_FFMPEG, else `ffmpeg` on PATH); ffprobe is looked for beside it. */
  ffmpeg?: string;
  /** Refuse frames with more pixels than this (default: the image limit, $BLIP_ITM_MAX_PIXELS or Pillow's). */
  maxPixels?: number;
  /** Refuse videos with more frames than this, from the header and then the count (default 100,000: 55 min at 30 fps). */
  maxFrames?: number;
}

export { DEFAULT_MAX_VIDEO_FRAMES };

const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or give its path with --ffmpeg PATH or BLIP_ITM_FFMPEG';

/** The ffmpeg and ffprobe executables to run. */
export function ffmpegTools(ffmpeg?: string): { ffmpeg: string; ffprobe: string } {
  const chosen = ffmpeg ?? (process.env.BLIP_ITM_FFMPEG || undefined);
  if (!chosen) return { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };
  const dir = path.dirname(chosen);
  const sibling = path.join(dir, path.basename(chosen).replace(/ffmpeg/i, 'ffprobe'));
  const hasDir = chosen.includes('/') || chosen.includes(path.sep);
  const useSibling = hasDir && sibling !== chosen && (fs.existsSync(sibling) || !fs.existsSync(chosen));
  return { ffmpeg: chosen, ffprobe: useSibling ? sibling : 'ffprobe' };
}

/** ffmpeg or ffprobe is not installed where it was looked for: no video can be read (callers skipping bad files stop instead). */
export class VideoToolMissing extends VideoDecoderUnavailable {
  constructor(message: string) {
    super(message);
    this.name = 'VideoToolMissing';
  }
}

interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

/** Runs a tool to completion (or until `stopAfter` bytes of stdout), collecting its output. */
function run(tool: string, args: string[], stopAfter?: number, onData?: (chunk: Buffer) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let stopped = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new VideoToolMissing(`${path.basename(tool)} not found (${tool}): ${INSTALL_HINT}`)
          : new Error(`${tool}: ${e.message}`),
      );
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (stopped) return;
      if (onData) onData(chunk);
      else out.push(chunk);
      outBytes += chunk.length;
      if (stopAfter !== undefined && outBytes >= stopAfter) {
        stopped = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 65536) err += chunk.toString('utf8');
    });
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code: stopped ? 0 : code }));
  });
}

/** The last meaningful line of a tool's error output, without the file name it repeats. */
function problem(stderr: string, file: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines[lines.length - 1] ?? 'unknown error';
  return last
    .split(file + ': ')
    .join('')
    .replace(/^\[[^\]]* @ 0x[0-9a-f]+\] */, '');
}

interface Header {
  width: number;
  height: number;
  codec: string;
  estimatedFrames: number | undefined;
}

function positive(v: unknown): number | undefined {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function rate(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const [a, b] = v.split('/').map(Number);
  return b > 0 && a > 0 ? a / b : undefined;
}

/** ffmpeg's `-fps_mode` appeared in 5.1; older builds take `-vsync`. Both mean "one output frame per decoded frame". */
const PASSTHROUGH = ['-fps_mode', 'passthrough'];

class FfmpegVideo implements VideoSource {
  private header?: Header;
  private count?: number;

  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly tools: { ffmpeg: string; ffprobe: string },
    private readonly maxPixels: number,
    private readonly maxFrames: number,
    private readonly cleanup: () => void,
  ) {}

  private async probe(extra: string[], entries: string): Promise<Record<string, unknown>> {
    const args = ['-v', 'error', '-select_streams', 'v:0', ...extra, '-show_entries', entries, '-of', 'json', this.file];
    const r = await run(this.tools.ffprobe, args);
    if (r.code !== 0 || r.stderr.trim() !== '') {
      throw new Error(`${this.name}: not a readable video (${problem(r.stderr, this.file)})`);
    }
    let json: { streams?: Record<string, unknown>[]; format?: Record<string, unknown> };
    try {
      json = JSON.parse(r.stdout.toString('utf8')) as typeof json;
    } catch {
      throw new Error(`${this.name}: ffprobe gave output that is not JSON`);
    }
    const stream = json.streams?.[0];
    if (!stream) throw new Error(`${this.name}: no video stream`);
    return { ...stream, format_duration: json.format?.duration };
  }

  private async readHeader(): Promise<Header> {
    if (this.header) return this.header;
    const s = await this.probe([], 'stream=width,height,codec_name,nb_frames,avg_frame_rate,duration:format=duration');
    const width = positive(s.width);
    const height = positive(s.height);
    if (!width || !height) throw new Error(`${this.name}: the video stream has no frame size`);
    if (width * height > this.maxPixels) {
      throw new VideoLimitError(
        `${this.name}: frames of ${width}x${height} = ${width * height} pixels exceed the ${this.maxPixels}-pixel limit`,
        'raise it with --max-pixels or BLIP_ITM_MAX_PIXELS if the file is trusted',
      );
    }
    const duration = positive(s.duration) ?? positive(s.format_duration);
    const fps = rate(s.avg_frame_rate);
    const estimatedFrames = positive(s.nb_frames) ?? (duration && fps ? Math.round(duration * fps) : undefined);
    this.checkFrames(estimatedFrames, 'by its header');
    this.header = { width, height, codec: String(s.codec_name ?? 'unknown'), estimatedFrames };
    return this.header;
  }

  private checkFrames(frames: number | undefined, how: string): void {
    if (frames !== undefined && frames > this.maxFrames) {
      throw new VideoLimitError(
        `${this.name}: ${frames} frames ${how} exceed the ${this.maxFrames}-frame limit`,
        'raise it with --max-frames',
      );
    }
  }

  async frameCount(): Promise<number> {
    if (this.count !== undefined) return this.count;
    await this.readHeader();
    const s = await this.probe(['-count_frames'], 'stream=nb_read_frames');
    const n = Number(s.nb_read_frames);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${this.name}: no decodable frames`);
    this.checkFrames(n, 'counted');
    this.count = n;
    return n;
  }

  async readFrames(indices: number[]): Promise<RawImage[]> {
    const { width, height } = await this.readHeader();
    if (indices.length === 0) return [];
    indices.forEach((v, k) => {
      if (!Number.isInteger(v) || v < 0 || (k > 0 && v <= indices[k - 1]))
        throw new Error('readFrames: indices must be distinct and ascending');
    });
    const frameBytes = width * height * 3;
    const want = indices.length;
    const select = indices.map((i) => `eq(n\\,${i})`).join('+');
    const args = ['-v', 'error', '-nostdin', '-noautorotate', '-i', this.file, '-map', '0:v:0', '-vf', `select=${select}`];
    args.push(...PASSTHROUGH, '-frames:v', String(want), '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');
    const frames: RawImage[] = [];
    let current = Buffer.alloc(frameBytes);
    let filled = 0;
    const r = await run(this.tools.ffmpeg, args, want * frameBytes, (chunk) => {
      let at = 0;
      while (at < chunk.length && frames.length < want) {
        const take = Math.min(frameBytes - filled, chunk.length - at);
        chunk.copy(current, filled, at, at + take);
        filled += take;
        at += take;
        if (filled === frameBytes) {
          frames.push({ data: new Uint8Array(current.buffer, current.byteOffset, frameBytes), width, height, channels: 3 });
          current = Buffer.alloc(frameBytes);
          filled = 0;
        }
      }
    });
    if (frames.length < want) {
      const why = r.stderr.trim() ? problem(r.stderr, this.file) : `ffmpeg gave ${frames.length} of the ${want} sampled frames`;
      throw new Error(`${this.name}: not a readable video (${why})`);
    }
    return frames;
  }

  close(): Promise<void> {
    this.cleanup();
    return Promise.resolve();
  }
}

/** The Node decoder: paths and bytes, through ffmpeg/ffprobe. */
export class FfmpegDecoder implements VideoDecoder {
  private readonly tools: { ffmpeg: string; ffprobe: string };
  private readonly maxPixels: number;
  private readonly maxFrames: number;

  constructor(opts: FfmpegOptions = {}) {
    this.tools = ffmpegTools(opts.ffmpeg);
    this.maxPixels = resolveMaxPixels(opts.maxPixels);
    const maxFrames = opts.maxFrames ?? DEFAULT_MAX_VIDEO_FRAMES;
    if (!Number.isInteger(maxFrames) || maxFrames < 1) throw new RangeError(`maxFrames must be a positive integer, got ${maxFrames}`);
    this.maxFrames = maxFrames;
  }

  open(input: unknown, name: string): Promise<VideoSource> {
    if (typeof input === 'string') {
      if (!fs.existsSync(input)) throw new Error(`${input}: no such file`);
      if (!fs.statSync(input).isFile()) throw new Error(`${input}: not a file`);
      return Promise.resolve(this.source(name, input, () => undefined));
    }
    if (input instanceof Uint8Array) {
      // A file, not a pipe: MP4s keep their index at the end, which a pipe cannot seek to.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blip-itm-video-'));
      const file = path.join(dir, 'video');
      try {
        fs.writeFileSync(file, input);
      } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      return Promise.resolve(this.source(name, file, () => fs.rmSync(dir, { recursive: true, force: true })));
    }
    throw new Error(`${name}: a video must be a file path, the bytes of a file, or an array of decoded frames`);
  }

  private source(name: string, file: string, cleanup: () => void): VideoSource {
    return new FfmpegVideo(name, file, this.tools, this.maxPixels, this.maxFrames, cleanup);
  }
}

// The Node entry loads this module: paths and bytes then decode through ffmpeg by default
// (the options from the environment, read when a video is opened).
setDefaultVideoDecoder({ open: (input, name) => new FfmpegDecoder().open(input, name) });

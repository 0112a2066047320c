import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fixture } from './fixtures';

/** The 20 committed test frames (32x24 PNGs) as an ffmpeg input at `fps`. */
function frames(fps: number, loops = 0): string[] {
  const input = ['-framerate', String(fps), '-i', path.join(fixture('video', 'frames'), '%02d.png')];
  return loops ? [...input, '-vf', `loop=loop=${loops}:size=20`] : input;
}
const H264 = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'];
/** Frames 10.. shown 0.4 s later than a steady 10 fps: a variable frame rate. */
const VFR = ['-vf', "setpts='(N*0.1+if(gt(N\\,9)\\,0.4\\,0))/TB'", '-fps_mode', 'passthrough'];

/**
 * Test videos made with ffmpeg from the committed frames, each exercising a container feature:
 * B-frames (composition offsets, an edit list), fragments, edits that cut or delay, a variable
 * frame rate, VP8/VP9 WebM, H.264 in Matroska (blocks stored in decode order), fewer frames
 * than BLIP samples, and an Ogg file (not indexed). `from` names a video to remux instead of the frames.
 */
export const TEST_VIDEOS: Record<string, { args: string[]; from?: string }> = {
  'h264.mp4': { args: [...frames(10), ...H264] },
  'h264-no-bframes.mp4': { args: [...frames(24, 1), ...H264, '-bf', '0', '-movflags', '+faststart'] },
  'h264.mov': { args: ['-c', 'copy'], from: 'h264.mp4' },
  'h264-fragmented.mp4': { args: [...frames(25, 1), ...H264, '-g', '10', '-movflags', '+frag_keyframe+empty_moov'] },
  'h264-cut.mp4': { args: ['-ss', '0.55', '-c', 'copy'], from: 'h264.mp4' },
  'h264-delayed.mp4': { args: [...frames(25), ...H264, '-output_ts_offset', '0.3'] },
  'h264-vfr.mp4': { args: [...frames(10), ...VFR, ...H264, '-bf', '0'] },
  'h264.mkv': { args: ['-c', 'copy'], from: 'h264.mp4' },
  'vp9.webm': { args: [...frames(30, 1), '-c:v', 'libvpx-vp9', '-frames:v', '33'] },
  'vp9-vfr.webm': { args: [...frames(10), ...VFR, '-c:v', 'libvpx-vp9'] },
  'vp8-short.webm': { args: [...frames(25), '-c:v', 'libvpx', '-frames:v', '5'] },
  /** Ogg: a container whose frames the browser decoder does not index (it estimates them). */
  'vp8.ogv': { args: [...frames(25, 1), '-c:v', 'libvpx', '-f', 'ogg'] },
};

/** Makes the named test videos in `dir` (once each); returns their paths. */
export function makeTestVideos(dir: string, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const file = path.join(dir, name);
    const spec = TEST_VIDEOS[name];
    if (!fs.existsSync(file)) {
      const input = spec.from ? ['-i', makeTestVideos(dir, [spec.from])[spec.from]] : [];
      const args =
        spec.from && spec.args[0] === '-ss' ? [spec.args[0], spec.args[1], ...input, ...spec.args.slice(2)] : [...input, ...spec.args];
      execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, file]);
    }
    out[name] = file;
  }
  return out;
}

/** ffprobe's decoded-frame count, frame presentation times (seconds) and frame size of the first video stream. */
export function ffprobeFrames(file: string): { count: number; times: number[]; width: number; height: number } {
  const probe = (args: string[]) =>
    execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', ...args, '-of', 'csv=p=0', file]).toString('utf8');
  const count = Number(probe(['-count_frames', '-show_entries', 'stream=nb_read_frames']).trim());
  const times = probe(['-show_entries', 'frame=pts_time'])
    .split('\n')
    .map((l) => l.replace(/,+$/, '').trim())
    .filter((l) => l !== '')
    .map(Number);
  const [width, height] = probe(['-show_entries', 'stream=width,height']).trim().split(',').map(Number);
  return { count, times, width, height };
}

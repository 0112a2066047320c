import { expect } from 'chai';
import * as fs from 'fs';
import { ContainerError, FrameLimitError, FrameTimeline, readFrameTimeline } from '../src/video/containers';
import { VideoLimitError } from '../src/video/source';
import { ByteSource } from '../src/weights/source';
import { rejection } from './helpers/expect';
import { fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';
import { TEST_VIDEOS, ffprobeFrames, makeTestVideos } from './helpers/videos';

function timelineOf(bytes: Uint8Array, maxFrames = 100_000): Promise<FrameTimeline | null> {
  const source: ByteSource = { name: 'video', size: bytes.length, read: (at, n) => Promise.resolve(bytes.subarray(at, at + n)) };
  return readFrameTimeline(source, maxFrames);
}

/**
 * The container indexes the browser decoder counts frames with (src/video/containers), against
 * ffprobe on the same files: the decoded-frame count (`-count_frames`, what Node samples from)
 * and every frame's presentation time, in order.
 */
describe('video containers: frame count and times from the index, as ffprobe decodes them', function () {
  this.timeout(120000);
  let videos: Record<string, string>;
  before(() => {
    videos = makeTestVideos(tempDir('blip-itm-containers-'), Object.keys(TEST_VIDEOS));
    for (const clip of ['clip20.mkv', 'clip7.mkv', 'clip5.mkv']) videos[clip] = fixture('video', clip);
  });

  it('gives ffprobe’s count and frame times for every test video', async () => {
    for (const [name, file] of Object.entries(videos)) {
      if (name.endsWith('.ogv')) continue;
      const timeline = await timelineOf(fs.readFileSync(file));
      const probed = ffprobeFrames(file);
      expect(timeline, name).to.not.equal(null);
      expect(timeline!.starts.length, `${name}: frame count`).to.equal(probed.count);
      expect(probed.times, `${name}: ffprobe lists every frame`).to.have.length(probed.count);
      // ffprobe prints microseconds (Matroska stores milliseconds).
      timeline!.starts.forEach((t, i) =>
        expect(Math.abs(t - probed.times[i]), `${name}: frame ${i} at ${t} s, ffprobe ${probed.times[i]} s`).to.be.below(1e-5 + 5e-7),
      );
      expect(timeline!.end, name).to.be.greaterThan(timeline!.starts[timeline!.starts.length - 1]);
      expect(timeline!.size, `${name}: frame size`).to.deep.equal({ width: probed.width, height: probed.height });
      expect(timeline!.container, name).to.equal(/\.(mp4|mov)$/.test(name) ? 'mp4' : 'matroska');
    }
  });

  it('reads nothing it does not know (null) and refuses cut-short or broken indexes in one line', async () => {
    const mp4 = fs.readFileSync(videos['h264.mp4']);
    const webm = fs.readFileSync(videos['vp9.webm']);
    expect(await timelineOf(new Uint8Array(1000).map((_, i) => (i * 37) % 251))).to.equal(null);
    expect(await timelineOf(new TextEncoder().encode('not a video at all'))).to.equal(null);
    expect(await timelineOf(fs.readFileSync(videos['vp8.ogv']))).to.equal(null);
    const cases: [Uint8Array, RegExp][] = [
      [mp4.subarray(0, mp4.length >> 1), /ends inside its "mdat" box \(truncated\)/],
      [fs.readFileSync(videos['h264-no-bframes.mp4']).subarray(0, 3000), /truncated/],
      [webm.subarray(0, webm.length >> 1), /ends inside a Matroska element \(truncated\)/],
    ];
    for (const [bytes, pattern] of cases) {
      const e = await rejection(timelineOf(bytes));
      expect(e).to.be.instanceOf(ContainerError);
      expect(e.message).to.match(pattern).and.not.include('\n');
    }
  });

  it('stops at maxFrames before building a table that size', async () => {
    const webm = await rejection(timelineOf(fs.readFileSync(videos['vp9.webm']), 10));
    expect(webm).to.be.instanceOf(FrameLimitError).and.instanceOf(VideoLimitError);
    expect(webm.message).to.equal('more than 10 frames exceed the 10-frame limit; raise maxFrames if the file is trusted');
    const mp4 = await rejection(timelineOf(fs.readFileSync(videos['h264.mp4']), 10));
    expect(mp4.message).to.equal('20 frames exceed the 10-frame limit; raise maxFrames if the file is trusted');
    const fragmented = await rejection(timelineOf(fs.readFileSync(videos['h264-fragmented.mp4']), 10));
    expect(fragmented).to.be.instanceOf(FrameLimitError);
    expect(await timelineOf(fs.readFileSync(videos['h264.mp4']), 20)).to.have.nested.property('starts.length', 20);
  });
});

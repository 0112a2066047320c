import { ContainerError, FrameLimitError, FrameTimeline, WindowedBytes } from './timeline';

/**
 * MP4/MOV (ISO BMFF): the first video track's sample table gives one entry per coded frame
 * (stsz), decode times (stts), composition offsets (ctts) and the edit list (elst) that maps
 * media time to the presentation timeline. A frame counts when its composition time lies inside
 * an edit, as ffmpeg's mov demuxer does (frames before an edit's start are decoded and dropped).
 * Fragmented MP4 (moof/trun) is read too.
 */

const MAX_MOOV_BYTES = 256 * 1024 * 1024;
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'mvex', 'moof', 'traf']);
const TOP_LEVEL = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'styp', 'sidx', 'moof', 'mfra', 'meta']);

interface Box {
  type: string;
  /** Offsets of the payload within the buffer (or file, for top-level boxes). */
  start: number;
  end: number;
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/** The box header at `at` in `b` whose parent ends at `limit`, or null when none fits. */
function boxAt(b: Uint8Array, view: DataView, at: number, limit: number, base = 0): Box | null {
  if (at + 8 > limit) return null;
  let size = view.getUint32(at - base);
  const type = fourcc(b, at - base + 4);
  let header = 8;
  if (size === 1) {
    if (at + 16 > limit) return null;
    size = Number(view.getBigUint64(at - base + 8));
    header = 16;
  } else if (size === 0) size = limit - at;
  if (size < header) throw new ContainerError(`MP4 box "${type}" has a size smaller than its header`);
  if (at + size > limit) {
    throw new ContainerError(
      base === at ? `the file ends inside its "${type}" box (truncated)` : `MP4 box "${type}" runs past the box holding it`,
    );
  }
  return { type, start: at + header, end: at + size };
}

/** Direct children of a box held in memory. */
function children(b: Uint8Array, view: DataView, parent: Box): Box[] {
  const out: Box[] = [];
  for (let at = parent.start; ;) {
    const box = boxAt(b, view, at, parent.end);
    if (!box) return out;
    out.push(box);
    at = box.end;
  }
}

function child(b: Uint8Array, view: DataView, parent: Box | undefined, type: string): Box | undefined {
  return parent && CONTAINERS.has(parent.type) ? children(b, view, parent).find((c) => c.type === type) : undefined;
}

/** True when the file starts like an MP4/MOV (a known top-level box). */
export function looksLikeMp4(head: Uint8Array): boolean {
  return head.length >= 8 && TOP_LEVEL.has(fourcc(head, 4));
}

interface TopBoxes {
  moov: Uint8Array;
  fragments: Uint8Array[];
}

/** Reads the moov box, and the moof boxes of a fragmented file, walking the top-level boxes. */
async function topBoxes(file: WindowedBytes): Promise<TopBoxes> {
  let moov: Uint8Array | undefined;
  const fragments: Uint8Array[] = [];
  for (let at = 0; at < file.size;) {
    const head = await file.bytes(at, 16);
    const box = boxAt(head, new DataView(head.buffer, head.byteOffset, head.length), at, file.size, at);
    if (!box) break;
    if (box.type === 'moov' || box.type === 'moof') {
      if (box.end - at > MAX_MOOV_BYTES) throw new ContainerError(`MP4 "${box.type}" box of ${box.end - at} bytes is too large`);
      const whole = (await file.bytes(at, box.end - at)).slice();
      if (box.type === 'moov') moov = whole;
      else fragments.push(whole);
    }
    at = box.end;
  }
  if (!moov) throw new ContainerError('no "moov" box (a truncated MP4, or not an MP4)');
  return { moov, fragments };
}

interface Edit {
  /** Presentation time where the edit starts (seconds). */
  at: number;
  /** Media time (track timescale units) the edit starts from; -1 for an empty edit. */
  mediaTime: number;
  /** Length in track timescale units (Infinity when the edit runs to the end). */
  length: number;
}

interface Track {
  id: number;
  size: { width: number; height: number } | undefined;
  timescale: number;
  edits: Edit[] | undefined;
  /** Per sample: decode time and composition offset (timescale units), from the sample table. */
  decode: number[];
  offsets: number[];
  durations: number[];
}

function readEdits(b: Uint8Array, view: DataView, trak: Box, movieScale: number, trackScale: number): Edit[] | undefined {
  const elst = child(b, view, child(b, view, trak, 'edts'), 'elst');
  if (!elst) return undefined;
  const v1 = b[elst.start] === 1;
  const count = view.getUint32(elst.start + 4);
  const edits: Edit[] = [];
  let at = 0;
  for (let i = 0, p = elst.start + 8; i < count; i++, p += v1 ? 20 : 12) {
    const duration = v1 ? Number(view.getBigUint64(p)) : view.getUint32(p);
    const mediaTime = v1 ? Number(view.getBigInt64(p + 8)) : view.getInt32(p + 4);
    const length = duration === 0 ? Infinity : (duration / movieScale) * trackScale;
    edits.push({ at, mediaTime, length });
    at += duration / movieScale;
  }
  return edits;
}

function fullBoxVersion(b: Uint8Array, box: Box): number {
  return b[box.start];
}

/** stts/ctts/stsz of a track: decode times, composition offsets and durations per sample. */
function sampleTable(
  b: Uint8Array,
  view: DataView,
  stbl: Box | undefined,
  maxFrames: number,
): Pick<Track, 'decode' | 'offsets' | 'durations'> {
  const stsz = child(b, view, stbl, 'stsz') ?? child(b, view, stbl, 'stz2');
  const count = stsz ? view.getUint32(stsz.start + 8) : 0;
  if (count > maxFrames) throw new FrameLimitError(count, maxFrames);
  const decode: number[] = [];
  const durations: number[] = [];
  const stts = child(b, view, stbl, 'stts');
  let t = 0;
  if (stts) {
    const entries = view.getUint32(stts.start + 4);
    for (let e = 0, p = stts.start + 8; e < entries && decode.length < count; e++, p += 8) {
      const n = view.getUint32(p);
      const delta = view.getUint32(p + 4);
      for (let k = 0; k < n && decode.length < count; k++, t += delta) {
        decode.push(t);
        durations.push(delta);
      }
    }
  }
  if (decode.length < count) throw new ContainerError(`MP4 time table covers ${decode.length} of ${count} samples`);
  const offsets = new Array<number>(count).fill(0);
  const ctts = child(b, view, stbl, 'ctts');
  if (ctts) {
    const entries = view.getUint32(ctts.start + 4);
    let s = 0;
    for (let e = 0, p = ctts.start + 8; e < entries && s < count; e++, p += 8) {
      const n = view.getUint32(p);
      const offset = view.getInt32(p + 4);
      for (let k = 0; k < n && s < count; k++) offsets[s++] = offset;
    }
  }
  return { decode, offsets, durations };
}

/** Width and height of the first visual sample entry (stsd), the coded frame size. */
function codedSize(b: Uint8Array, view: DataView, stbl: Box | undefined): Track['size'] {
  const stsd = child(b, view, stbl, 'stsd');
  if (!stsd || stsd.start + 8 + 36 > stsd.end) return undefined;
  const entry = stsd.start + 8; // after version/flags and the entry count
  // SampleEntry: size, type, 6 reserved, data_reference_index; VisualSampleEntry: 16 bytes, then width, height.
  const width = view.getUint16(entry + 32);
  const height = view.getUint16(entry + 34);
  return width && height ? { width, height } : undefined;
}

function isVideo(b: Uint8Array, view: DataView, trak: Box): boolean {
  const hdlr = child(b, view, child(b, view, trak, 'mdia'), 'hdlr');
  return hdlr !== undefined && fourcc(b, hdlr.start + 8) === 'vide';
}

function readTrack(b: Uint8Array, view: DataView, trak: Box, movieScale: number, maxFrames: number): Track {
  const tkhd = child(b, view, trak, 'tkhd');
  const id = tkhd ? view.getUint32(tkhd.start + (fullBoxVersion(b, tkhd) === 1 ? 20 : 12)) : 0;
  const mdia = child(b, view, trak, 'mdia');
  const mdhd = child(b, view, mdia, 'mdhd');
  if (!mdhd) throw new ContainerError('the MP4 video track has no "mdhd" box');
  const timescale = view.getUint32(mdhd.start + (fullBoxVersion(b, mdhd) === 1 ? 20 : 12));
  if (!timescale) throw new ContainerError('the MP4 video track has a zero timescale');
  const stbl = child(b, view, child(b, view, mdia, 'minf'), 'stbl');
  return {
    id,
    size: codedSize(b, view, stbl),
    timescale,
    edits: readEdits(b, view, trak, movieScale, timescale),
    ...sampleTable(b, view, stbl, maxFrames),
  };
}

/** Samples of a fragmented MP4 (moof > traf > tfhd/tfdt/trun), appended to the track's table. */
function addFragments(track: Track, moov: Uint8Array, fragments: Uint8Array[], maxFrames: number): void {
  const mview = new DataView(moov.buffer, moov.byteOffset, moov.length);
  const mvex = child(moov, mview, boxAt(moov, mview, 0, moov.length) ?? undefined, 'mvex');
  let defaultDuration = 0;
  for (const trex of mvex ? children(moov, mview, mvex).filter((c) => c.type === 'trex') : []) {
    if (mview.getUint32(trex.start + 4) === track.id) defaultDuration = mview.getUint32(trex.start + 12);
  }
  let next = track.decode.length ? track.decode[track.decode.length - 1] + track.durations[track.durations.length - 1] : 0;
  for (const moof of fragments) {
    const view = new DataView(moof.buffer, moof.byteOffset, moof.length);
    const root = boxAt(moof, view, 0, moof.length);
    for (const traf of root ? children(moof, view, root).filter((c) => c.type === 'traf') : []) {
      const tfhd = child(moof, view, traf, 'tfhd');
      if (!tfhd || view.getUint32(tfhd.start + 4) !== track.id) continue;
      const flags = view.getUint32(tfhd.start) & 0xffffff;
      let p = tfhd.start + 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0);
      const trafDuration = flags & 0x8 ? view.getUint32(p) : defaultDuration;
      const tfdt = child(moof, view, traf, 'tfdt');
      if (tfdt) next = fullBoxVersion(moof, tfdt) === 1 ? Number(view.getBigUint64(tfdt.start + 4)) : view.getUint32(tfdt.start + 4);
      for (const trun of children(moof, view, traf).filter((c) => c.type === 'trun')) {
        const tflags = view.getUint32(trun.start) & 0xffffff;
        const count = view.getUint32(trun.start + 4);
        if (track.decode.length + count > maxFrames) throw new FrameLimitError(undefined, maxFrames);
        p = trun.start + 8 + (tflags & 0x1 ? 4 : 0) + (tflags & 0x4 ? 4 : 0);
        for (let s = 0; s < count; s++) {
          const duration = tflags & 0x100 ? view.getUint32(p) : trafDuration;
          p += tflags & 0x100 ? 4 : 0;
          p += (tflags & 0x200 ? 4 : 0) + (tflags & 0x400 ? 4 : 0);
          const offset = tflags & 0x800 ? view.getInt32(p) : 0;
          p += tflags & 0x800 ? 4 : 0;
          track.decode.push(next);
          track.offsets.push(offset);
          track.durations.push(duration);
          next += duration;
        }
      }
    }
  }
}

/** Presentation times (seconds) of the frames an edit list keeps, with the end of the last. */
function present(track: Track): { starts: number[]; end: number } {
  const { timescale, decode, offsets, durations } = track;
  const edits = track.edits ?? [{ at: 0, mediaTime: 0, length: Infinity }];
  const starts: number[] = [];
  let end = 0;
  for (const edit of edits) {
    if (edit.mediaTime < 0) {
      end = Math.max(end, edit.at + edit.length / timescale);
      continue;
    }
    // Without an edit list the composition times are the presentation times as they are.
    const from = track.edits ? edit.mediaTime : 0;
    const until = from + edit.length;
    for (let s = 0; s < decode.length; s++) {
      const cts = decode[s] + offsets[s];
      if (cts < from || cts >= until) continue;
      starts.push(edit.at + (cts - from) / timescale);
      end = Math.max(end, edit.at + (Math.min(cts + durations[s], until) - from) / timescale);
    }
  }
  starts.sort((a, c) => a - c);
  // As ffmpeg's mov demuxer (and so Chromium's): with an edit list, the first frame kept is
  // moved to time 0 (an edit starting between two frames would leave it later), plus the
  // delay of the empty edits that open the list.
  const delay = track.edits ? leadingDelay(track.edits) : 0;
  const shift = starts.length && track.edits ? starts[0] - delay : 0;
  return shift > 0 ? { starts: starts.map((t) => t - shift), end: end - shift } : { starts, end };
}

/** Seconds of empty edits before the first edit that shows media. */
function leadingDelay(edits: Edit[]): number {
  const first = edits.findIndex((e) => e.mediaTime >= 0);
  return first < 0 ? 0 : edits[first].at;
}

/** The first video track's frame timeline; refuses tables of more than `maxFrames` samples. */
export async function mp4Timeline(file: WindowedBytes, maxFrames: number): Promise<FrameTimeline> {
  const { moov, fragments } = await topBoxes(file);
  const view = new DataView(moov.buffer, moov.byteOffset, moov.length);
  const root = boxAt(moov, view, 0, moov.length);
  if (!root) throw new ContainerError('empty "moov" box');
  const mvhd = child(moov, view, root, 'mvhd');
  const movieScale = mvhd ? view.getUint32(mvhd.start + (fullBoxVersion(moov, mvhd) === 1 ? 20 : 12)) : 0;
  const trak = children(moov, view, root).find((c) => c.type === 'trak' && isVideo(moov, view, c));
  if (!trak) throw new ContainerError('no video track');
  const track = readTrack(moov, view, trak, movieScale || 1, maxFrames);
  if (fragments.length) addFragments(track, moov, fragments, maxFrames);
  const { starts, end } = present(track);
  if (starts.length === 0) throw new ContainerError('the video track has no frames');
  return { container: 'mp4', starts, end, size: track.size };
}

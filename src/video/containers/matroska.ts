import { ContainerError, FrameLimitError, FrameTimeline, WindowedBytes } from './timeline';

/**
 * WebM/Matroska: the first video track's blocks (SimpleBlock, or Block inside a BlockGroup), one
 * per coded frame, each stamped with its presentation time (cluster timestamp + the block's
 * offset, times TimestampScale). A VP8 frame with its show_frame bit clear (an alt-ref frame)
 * is decoded but never output, so it is not counted, as ffmpeg does not count it.
 */

const ID = {
  ebml: 0x1a45dfa3,
  segment: 0x18538067,
  info: 0x1549a966,
  timestampScale: 0x2ad7b1,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackType: 0x83,
  codecId: 0x86,
  defaultDuration: 0x23e383,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
  cluster: 0x1f43b675,
  timestamp: 0xe7,
  simpleBlock: 0xa3,
  blockGroup: 0xa0,
  block: 0xa1,
  blockDuration: 0x9b,
};
/** Elements that may follow a cluster of unknown size (they end it). */
const SEGMENT_CHILDREN = new Set([ID.cluster, ID.info, ID.tracks, 0x1c53bb6b, 0x1254c367, 0x1043a770, 0x1941a469, 0x114d9b74]);
const VIDEO_TRACK = 1;

interface Element {
  id: number;
  /** Offset of the payload. */
  start: number;
  /** Offset after the payload; undefined when the size is unknown (live streams). */
  end: number | undefined;
}

/** A variable-length integer at `at`: its value and length; `marker` keeps the length bits (IDs do). */
function vint(b: Uint8Array, at: number, marker: boolean): { value: number; length: number; allOnes: boolean } {
  const first = b[at];
  if (first === undefined) throw new ContainerError('the file ends inside a Matroska element (truncated)');
  if (first === 0) throw new ContainerError('malformed Matroska element header');
  const length = Math.clz32(first) - 23;
  if (at + length > b.length) throw new ContainerError('the file ends inside a Matroska element (truncated)');
  let value = marker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let k = 1; k < length; k++) {
    value = value * 256 + b[at + k];
    allOnes &&= b[at + k] === 0xff;
  }
  return { value, length, allOnes };
}

async function elementAt(file: WindowedBytes, at: number): Promise<Element> {
  const head = await file.bytes(at, 12);
  const id = vint(head, 0, true);
  const size = vint(head, id.length, false);
  const start = at + id.length + size.length;
  return { id: id.value, start, end: size.allOnes ? undefined : start + size.value };
}

function uint(b: Uint8Array): number {
  return b.reduce((v, x) => v * 256 + x, 0);
}

/** Children of a small element read whole (Info, Tracks, a BlockGroup). */
async function childrenOf(file: WindowedBytes, parent: Element): Promise<{ id: number; data: Uint8Array; element: Element }[]> {
  const out: { id: number; data: Uint8Array; element: Element }[] = [];
  const end = parent.end ?? file.size;
  for (let at = parent.start; at < end;) {
    const e = await elementAt(file, at);
    const stop = Math.min(e.end ?? end, end);
    out.push({ id: e.id, data: (await file.bytes(e.start, Math.min(stop - e.start, 64))).slice(), element: e });
    at = stop;
  }
  return out;
}

interface VideoTrack {
  number: number;
  codec: string;
  defaultDuration: number | undefined;
  size: { width: number; height: number } | undefined;
}

async function firstVideoTrack(file: WindowedBytes, tracks: Element): Promise<VideoTrack> {
  for (const entry of await childrenOf(file, tracks)) {
    if (entry.id !== ID.trackEntry) continue;
    const children = await childrenOf(file, entry.element);
    const fields = new Map(children.map((f) => [f.id, f.data]));
    if (uint(fields.get(ID.trackType) ?? new Uint8Array()) !== VIDEO_TRACK) continue;
    const dd = fields.get(ID.defaultDuration);
    const video = children.find((f) => f.id === ID.video);
    const pixels = video ? new Map((await childrenOf(file, video.element)).map((f) => [f.id, uint(f.data)])) : undefined;
    const width = pixels?.get(ID.pixelWidth);
    const height = pixels?.get(ID.pixelHeight);
    return {
      size: width && height ? { width, height } : undefined,
      number: uint(fields.get(ID.trackNumber) ?? new Uint8Array()),
      codec: new TextDecoder().decode(fields.get(ID.codecId) ?? new Uint8Array()).replace(/\0+$/, ''),
      defaultDuration: dd ? uint(dd) : undefined,
    };
  }
  throw new ContainerError('no video track');
}

/** True when the file starts with an EBML header (WebM, Matroska). */
export function looksLikeMatroska(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3;
}

class BlockCollector {
  readonly times: number[] = [];
  lastDuration: number | undefined;

  constructor(
    private readonly track: VideoTrack,
    private readonly maxFrames: number,
  ) {}

  /** Adds the frames of a block whose first bytes are `head`, in a cluster at `clusterTime` (ticks). */
  add(head: Uint8Array, clusterTime: number, duration: number | undefined): void {
    const track = vint(head, 0, false);
    if (track.value !== this.track.number) return;
    const at = track.length;
    if (head.length < at + 3) throw new ContainerError('truncated Matroska block');
    const relative = new DataView(head.buffer, head.byteOffset + at, 2).getInt16(0);
    const laced = (head[at + 2] & 0x06) !== 0;
    const frames = laced ? head[at + 3] + 1 : 1;
    if (!laced && this.track.codec === 'V_VP8' && head.length > at + 3 && (head[at + 3] & 0x10) === 0) return;
    for (let k = 0; k < frames; k++) this.times.push(clusterTime + relative);
    if (this.times.length > this.maxFrames) throw new FrameLimitError(undefined, this.maxFrames);
    this.lastDuration = duration;
  }
}

async function readCluster(file: WindowedBytes, cluster: Element, blocks: BlockCollector): Promise<number> {
  let clusterTime = 0;
  const limit = cluster.end ?? file.size;
  let at = cluster.start;
  while (at < limit) {
    const e = await elementAt(file, at);
    if (cluster.end === undefined && SEGMENT_CHILDREN.has(e.id)) break;
    const end = Math.min(e.end ?? limit, limit);
    if (e.id === ID.timestamp) clusterTime = uint(await file.bytes(e.start, end - e.start));
    else if (e.id === ID.simpleBlock) blocks.add(await file.bytes(e.start, Math.min(end - e.start, 16)), clusterTime, undefined);
    else if (e.id === ID.blockGroup) {
      const fields = await childrenOf(file, e);
      const block = fields.find((f) => f.id === ID.block);
      const duration = fields.find((f) => f.id === ID.blockDuration);
      if (block) blocks.add(block.data, clusterTime, duration ? uint(duration.data) : undefined);
    }
    at = end;
  }
  return at;
}

/** The first video track's frame timeline; refuses files with more than `maxFrames` frames. */
export async function matroskaTimeline(file: WindowedBytes, maxFrames: number): Promise<FrameTimeline> {
  const header = await elementAt(file, 0);
  if (header.id !== ID.ebml || header.end === undefined) throw new ContainerError('no EBML header');
  const segment = await elementAt(file, header.end);
  if (segment.id !== ID.segment) throw new ContainerError('no Matroska segment');
  let scale = 1_000_000;
  let track: VideoTrack | undefined;
  let blocks: BlockCollector | undefined;
  const end = Math.min(segment.end ?? file.size, file.size);
  for (let at = segment.start; at < end;) {
    const e = await elementAt(file, at);
    if (e.id === ID.info) {
      const ts = (await childrenOf(file, e)).find((f) => f.id === ID.timestampScale);
      if (ts) scale = uint(ts.data);
    } else if (e.id === ID.tracks) {
      track = await firstVideoTrack(file, e);
      blocks = new BlockCollector(track, maxFrames);
    } else if (e.id === ID.cluster) {
      if (!blocks) throw new ContainerError('a cluster before the track list');
      at = await readCluster(file, e, blocks);
      continue;
    }
    at = Math.min(e.end ?? end, end);
  }
  if (!track || !blocks) throw new ContainerError('no track list');
  if (blocks.times.length === 0) throw new ContainerError('the video track has no frames');
  const seconds = scale / 1e9;
  const ticks = [...blocks.times].sort((a, c) => a - c);
  const last = ticks[ticks.length - 1];
  const gap = ticks.length > 1 ? last - ticks[ticks.length - 2] : undefined;
  const lastLength =
    blocks.lastDuration ?? (track.defaultDuration !== undefined ? track.defaultDuration / scale : (gap ?? 1000_000_000 / scale / 25));
  return { container: 'matroska', starts: ticks.map((t) => t * seconds), end: (last + lastLength) * seconds, size: track.size };
}

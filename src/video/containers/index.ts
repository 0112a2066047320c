import { ByteSource } from '../../weights/source';
import { looksLikeMatroska, matroskaTimeline } from './matroska';
import { looksLikeMp4, mp4Timeline } from './mp4';
import { ContainerError, FrameTimeline, WindowedBytes } from './timeline';

export { ContainerError, FrameLimitError, frameEnd } from './timeline';
export type { FrameTimeline } from './timeline';

/** The containers whose frame index we read. */
export const READ_CONTAINERS = 'MP4/MOV and WebM/Matroska';

/**
 * The frame timeline of a video file from its container's index (MP4/MOV sample tables,
 * WebM/Matroska blocks), or null when the file is neither. A file that claims to be one of them
 * but whose index is broken (truncated, malformed) throws a ContainerError, a one-line reason.
 */
export async function readFrameTimeline(source: ByteSource, maxFrames: number): Promise<FrameTimeline | null> {
  const file = new WindowedBytes(source);
  const head = await file.bytes(0, 16);
  try {
    if (looksLikeMatroska(head)) return await matroskaTimeline(file, maxFrames);
    if (looksLikeMp4(head)) return await mp4Timeline(file, maxFrames);
  } catch (e) {
    // DataView reads past a box's end: the index is malformed or cut short.
    if (e instanceof RangeError) throw new ContainerError(`malformed or truncated container index (${e.message})`);
    throw e;
  }
  return null;
}

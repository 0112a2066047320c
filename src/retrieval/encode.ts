import { BlipItm } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { ImageDecodeError } from '../image';
import { VideoToolMissing } from '../node/video';
import { VideoDecoder, VideoSource } from '../video/source';

/**
 * One file through the vision encoder, as the index stores it: the ITC vector and the states the
 * ITM re-rank needs (an image's tokens × hidden; a video's every sampled frame, frames × tokens ×
 * hidden, exactly what `encodeVideos` gives `score --video`).
 */
export interface Encoded {
  vector: Float32Array;
  states: Float32Array;
}

/** A problem with one file (not an image, not a readable video): it is reported and skipped, the run goes on. */
export class SkipFile extends Error {}

async function features(embedding: ImageEmbedding): Promise<Encoded> {
  try {
    const states = (await embedding.states.data()) as Float32Array; // [1, frames·T, D] → row-major
    return { vector: embedding.itcEmbedding, states };
  } finally {
    embedding.dispose();
  }
}

export async function encodeImageBytes(model: BlipItm, bytes: Uint8Array): Promise<Encoded> {
  let embedding: ImageEmbedding;
  try {
    [embedding] = await model.encodeImages([bytes]);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new SkipFile(e.problem);
    throw e;
  }
  return features(embedding);
}

/** A video file as BLIP's video retrieval encodes it (`frames` sampled); what the decoder cannot read is a SkipFile. */
export async function encodeVideoFile(model: BlipItm, file: string, frames: number, decoder: VideoDecoder): Promise<Encoded> {
  const [embedding] = await model.encodeVideos([file], { frames, decoder: skipping(decoder, file) });
  return features(embedding);
}

/**
 * The decoder with its errors (a truncated file, a bad header, a limit exceeded) turned into
 * SkipFile, their text without the file name; a missing ffmpeg stays an error: no video would read.
 */
function skipping(decoder: VideoDecoder, file: string): VideoDecoder {
  const mark = (e: unknown): never => {
    if (e instanceof VideoToolMissing || !(e instanceof Error)) throw e;
    throw new SkipFile(e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message);
  };
  return {
    async open(input: unknown, name: string): Promise<VideoSource> {
      let source: VideoSource;
      try {
        source = await decoder.open(input, name);
      } catch (e) {
        return mark(e);
      }
      return {
        name: source.name,
        frameCount: () => source.frameCount().catch(mark),
        readFrames: (indices) => source.readFrames(indices).catch(mark),
        close: () => source.close(),
      };
    },
  };
}

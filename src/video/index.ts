export { uniformFrameIndices, checkFrameCount, DEFAULT_FRAMES, MAX_FRAMES } from './sampling';
export { VideoDecoderUnavailable, VideoLimitError, framesSource, openVideo, setDefaultVideoDecoder, videoName } from './source';
export type { VideoDecoder, VideoInput, VideoOptions, VideoSource } from './source';

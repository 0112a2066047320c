/** BLIP's retrieval evaluation protocol (TR@K / IR@K on Karpathy test sets). */
export { evaluate, EVAL_TEXT } from './evaluate';
export type { EvalOptions, EvalResult } from './evaluate';
export { loadEvalSet, preCaption, MAX_WORDS } from './annotations';
export type { EvalSet } from './annotations';
export { recalls, rankOrder, shortlist, OUTSIDE } from './protocol';
export type { Recalls } from './protocol';
export { evaluateVideos, videoRecalls } from './video-evaluate';
export type { VideoEvalOptions, VideoEvalResult, VideoRecalls } from './video-evaluate';
export { loadVideoEvalSet, VIDEO_MAX_WORDS } from './video-set';

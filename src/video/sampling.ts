/**
 * BLIP's "uniform" frame sampling, `np.arange(0, vlen, vlen / n, dtype=int)` (data/video_dataset.py),
 * reproduced as numpy computes it rather than as the formula reads:
 * - the length is numpy's `ceil((stop - start) / step)` in float64, so it is n for most lengths
 *   but n + 1 where `vlen / (vlen / n)` rounds above n (e.g. vlen 17, n 7; never for n a power of 2);
 * - with an integer dtype numpy casts the first two values and steps by their difference, so
 *   index i is `i * floor(vlen / n)`, not `floor(i * vlen / n)` (vlen 20, n 8: 0, 2, ..., 14);
 * - vlen < n gives frame 0, n times.
 * These are the frames BLIP's published video numbers were computed on.
 */
export function uniformFrameIndices(vlen: number, n: number): number[] {
  if (!Number.isInteger(vlen) || vlen < 1) throw new Error(`frame sampling: the video has no frames (count ${vlen})`);
  checkFrameCount(n);
  const step = vlen / n; // float64, as Python's true division
  const length = Math.ceil(vlen / step); // numpy's _arange_safe_ceil_to_intp((stop - start) / delta)
  const delta = Math.trunc(0 + step) - Math.trunc(0); // int(start + delta) - int(start)
  return Array.from({ length }, (_, i) => i * delta);
}

/** The largest frame count accepted (the text cross-attends to frames x tokens states). */
export const MAX_FRAMES = 64;

/** Throws unless `n` is a usable number of frames per video. */
export function checkFrameCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FRAMES) throw new Error(`frames must be an integer 1..${MAX_FRAMES}, got ${n}`);
}

/** BLIP's num_frm_test for MSRVTT (configs/retrieval_msrvtt.yaml). */
export const DEFAULT_FRAMES = 8;

import * as tf from '@tensorflow/tfjs-core';
import { Linear } from '../weights/view';
import { onWasm, unstack0 } from './wasm';
import { halfFloatStorage } from './ops';

/** What a block of queries attends to. */
export interface AttentionTarget {
  /** Keys pre-transposed [B, H, d, Tk] and values [B, H, Tk, d] (may be projected on first call and kept by the owner). */
  keysValues(): { keysT: tf.Tensor4D; values: tf.Tensor4D };
  /**
   * Optional, for one unprojected sequence (an image): its states S [T, E], Sᵀ [E, T] and the
   * key/value projections, so that a few queries can attend without projecting all T tokens.
   */
  rawStates?(): { states: tf.Tensor2D; statesT: tf.Tensor2D; key: Linear; value: Linear };
}

/** Keys [B, H, Tk, d] and values [B, H, Tk, d] already in hand (self-attention). */
export function projectedTarget(keys: tf.Tensor4D, values: tf.Tensor4D): AttentionTarget {
  const keysT = keys.transpose([0, 1, 3, 2]) as tf.Tensor4D; // [B, H, d, Tk]
  return { keysValues: () => ({ keysT, values }) };
}

/**
 * - batched: one [B, H, ...] matMul pair; any mask. The plain form.
 * - per-head: wasm, one sequence, no mask: each head a pair of 2-D matmuls (XNNPACK's GEMM; a
 *   batched matMul on wasm is a naive loop, ~10x slower).
 * - raw-states: few queries against an image's unprojected states (see attendToStates).
 */
export type AttentionVariant = 'batched' | 'per-head' | 'raw-states';

export interface AttentionOptions {
  /** Multiplies the scores (1/√d). */
  scale: number;
  /** Additive mask broadcasting to [B, H, Tq, Tk] (0 visible, a huge negative padded). */
  mask?: tf.Tensor;
  /** Return the probabilities [B, H, Tq, Tk] (costs a stack on the per-head path). */
  keepProbs?: boolean;
  /** Sees (and may replace) the probabilities [B, H, Tq, Tk]: Grad-CAM differentiates there. Implies keepProbs. */
  probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D;
  /** Force a variant (tests compare every variant with the plain one). Default: chooseVariant. */
  variant?: AttentionVariant;
}

export interface AttentionResult {
  context: tf.Tensor4D;
  probs?: tf.Tensor4D;
}

const runs: Record<AttentionVariant, number> = { batched: 0, 'per-head': 0, 'raw-states': 0 };

/** How many times each variant has run in this process (tests assert the path they claim ran). */
export function attentionRuns(): Readonly<Record<AttentionVariant, number>> {
  return { ...runs };
}

/**
 * The one dispatch point. Depends on shapes and the backend only, never on history, so the
 * same inputs always take the same path and give the same bits. Attending to raw states wins
 * while the query rows are fewer than the head width (see attendToStates).
 */
export function chooseVariant(q: tf.Tensor4D, target: AttentionTarget, mask?: tf.Tensor): AttentionVariant {
  const [b, , tq, d] = q.shape;
  if (b === 1 && !mask && target.rawStates && tq < d) return 'raw-states';
  if (b === 1 && !mask && onWasm()) return 'per-head';
  return 'batched';
}

/**
 * Scaled dot-product attention: softmax(q kᵀ · scale + mask) v.
 * q [B, H, Tq, d] → context [B, H, Tq, d] (and probs [B, H, Tq, Tk] when asked).
 */
export function attention(q: tf.Tensor4D, target: AttentionTarget, opts: AttentionOptions): AttentionResult {
  const variant = opts.variant ?? chooseVariant(q, target, opts.mask);
  runs[variant]++;
  const want = !!opts.keepProbs || !!opts.probsHook;
  const out =
    variant === 'raw-states'
      ? attendToStates(q, target, opts)
      : variant === 'per-head'
        ? attendPerHead(q, target.keysValues(), opts)
        : attendBatched(q, target.keysValues(), opts);
  return { context: out.context, probs: want ? out.probs : undefined };
}

interface KeysValues {
  keysT: tf.Tensor4D;
  values: tf.Tensor4D;
}

function attendBatched(q: tf.Tensor4D, { keysT, values }: KeysValues, opts: AttentionOptions): AttentionResult {
  let scores = tf.mul(tf.matMul(q, keysT), opts.scale); // [B, H, Tq, Tk]
  if (opts.mask) scores = tf.add(scores, opts.mask);
  let probs = tf.softmax(scores, -1) as tf.Tensor4D; // [B, H, Tq, Tk]
  if (opts.probsHook) probs = opts.probsHook(probs);
  return { context: tf.matMul(probs, values) as tf.Tensor4D, probs }; // [B, H, Tq, d]
}

/**
 * One sequence (B = 1), unmasked, head by head. The scale multiplies q, not the scores (the same
 * numbers up to rounding, exactly for power-of-two scales such as 1/8).
 */
function attendPerHead(q: tf.Tensor4D, { keysT, values }: KeysValues, opts: AttentionOptions): AttentionResult {
  const [, h, tq, d] = q.shape;
  const tk = keysT.shape[3];
  const grad = !!opts.probsHook; // Grad-CAM differentiates through the queries and the probabilities
  const qs = unstack0(tf.mul(q, opts.scale).reshape([h, tq, d]), grad) as tf.Tensor2D[]; // H x [Tq, d]
  const ks = unstack0(keysT.reshape([h, d, tk])) as tf.Tensor2D[]; // H x [d, Tk]
  const vs = unstack0(values.reshape([h, tk, d])) as tf.Tensor2D[]; // H x [Tk, d]
  if (!opts.keepProbs && !opts.probsHook) {
    const ctx = qs.map((qh, i) => tf.matMul(tf.softmax(tf.matMul(qh, ks[i]), -1) as tf.Tensor2D, vs[i]));
    return { context: tf.stack(ctx).reshape([1, h, tq, d]) as tf.Tensor4D };
  }
  const scores = tf.stack(qs.map((qh, i) => tf.matMul(qh, ks[i]))); // [H, Tq, Tk]
  let probs = tf.softmax(scores, -1).reshape([1, h, tq, tk]) as tf.Tensor4D;
  if (opts.probsHook) probs = opts.probsHook(probs);
  const ps = unstack0(probs.reshape([h, tq, tk]), grad) as tf.Tensor2D[];
  const context = tf.stack(ps.map((p, i) => tf.matMul(p, vs[i]))).reshape([1, h, tq, d]) as tf.Tensor4D;
  return { context, probs };
}

/**
 * Attention to one sequence's states S without projecting its keys and values:
 * scores_h = q_h K_hᵀ = (q_h W_k,h) Sᵀ + q_h·b_k,h, and the last term is constant along each
 * row, so softmax drops it; context_h = P_h (S W_v,hᵀ + b_v,h) = (P_h S) W_v,hᵀ + (P_h 1) b_v,h.
 * Per head this costs Tq·E·(d + 2T) instead of the 2·T·E·d of projecting all T tokens, a win
 * while Tq is below the head width d.
 */
function attendToStates(q: tf.Tensor4D, target: AttentionTarget, opts: AttentionOptions): AttentionResult {
  if (!target.rawStates || opts.mask) throw new Error('internal: raw-states attention needs an unmasked raw sequence');
  const { states, statesT, key, value } = target.rawStates();
  const [, h, tq, d] = q.shape;
  const [t, e] = states.shape;
  const wk = key.weight.reshape([h, d, e]); // [H, d, E]
  const qk = tf.matMul(tf.mul(q.reshape([h, tq, d]), opts.scale), wk).reshape([h * tq, e]); // [H*Tq, E]
  let probs = tf.softmax(tf.matMul(qk as tf.Tensor2D, statesT), -1).reshape([1, h, tq, t]) as tf.Tensor4D; // [1, H, Tq, T]
  if (opts.probsHook) probs = opts.probsHook(probs);
  const flat = probs.reshape([h * tq, t]) as tf.Tensor2D; // [H*Tq, T]
  const mixed = tf.matMul(flat, states).reshape([h, tq, e]); // [H, Tq, E]
  const wv = value.weight.reshape([h, d, e]); // [H, d, E]
  // The bias enters as (row sum of P) x b_v, which is b_v in value but keeps the gradient with
  // respect to P what it is with projected values.
  const rowSums = tf.sum(flat, -1, true).reshape([h, tq, 1]); // [H, Tq, 1]
  const context = tf.add(tf.matMul(mixed, wv, false, true), tf.mul(rowSums, value.bias.reshape([h, 1, d]))); // [H, Tq, d]
  return { context: context.reshape([1, h, tq, d]) as tf.Tensor4D, probs };
}

/** The most negative float32: transformers 5 masks with finfo(float32).min (BLIP's original used -10000; both give exact zeros). */
const MASKED = -3.4028234663852886e38;

/**
 * webgl with half-float textures (the browser's float16 mode) would store MASKED as -inf, and
 * 0 x -inf is NaN: use float16's most negative value there, as transformers uses finfo(float16).min
 * for a model.half().
 */
function maskedValue(): number {
  return halfFloatStorage() ? -65504 : MASKED;
}

/** [B, L] of 1/0 → [B, 1, 1, L] of 0/MASKED, the additive padding mask of BERT self-attention. */
export function additivePaddingMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [b, l] = mask.shape;
  return tf.mul(tf.sub(1, tf.cast(mask, 'float32')), maskedValue()).reshape([b, 1, 1, l]) as tf.Tensor4D;
}

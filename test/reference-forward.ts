/*
 * A plain BLIP ITM/ITC forward for tests, in the spirit of nanoGPT: straightforward tfjs ops on
 * token-major tensors, batched matMuls, the checkpoint read by its keys, no layout tricks and
 * no backend branches. Every fast path of src/ is checked against it (test/model-path.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BlipConfig } from '../src/config';
import { RawTensor } from '../src/weights/raw-tensor';

/** The checkpoint as a state dict: sd('text_encoder.embeddings.LayerNorm.weight'). */
export type StateDict = (key: string) => tf.Tensor;

export function stateDict(raw: Map<string, RawTensor>): StateDict {
  return (key) => {
    const t = raw.get(key);
    if (!t) throw new Error(`reference: no tensor ${key}`);
    return tf.tensor(t.data, t.shape, t.dtype === 'float32' ? 'float32' : 'int32');
  };
}

/** nn.Linear: x [..., in] @ Wᵀ + b. */
function linear(sd: StateDict, prefix: string, x: tf.Tensor): tf.Tensor {
  const w = sd(`${prefix}.weight`); // [out, in]
  const [out, inDim] = w.shape as [number, number];
  const flat = x.reshape([-1, inDim]);
  const y = tf.add(tf.matMul(flat, w, false, true), sd(`${prefix}.bias`)); // [N, out]
  return y.reshape([...x.shape.slice(0, -1), out]);
}

function layerNorm(sd: StateDict, prefix: string, x: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), sd(`${prefix}.weight`)), sd(`${prefix}.bias`));
}

function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
}

/** [B, T, H*d] → [B, H, T, d]. */
function heads(x: tf.Tensor, h: number): tf.Tensor4D {
  const [b, t, dm] = x.shape;
  return x.reshape([b, t, h, dm / h]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** softmax(q kᵀ / √d + mask) v, all batched: q [B, H, Tq, d], k, v [B, H, Tk, d] → [B, Tq, H*d], probs. */
function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor) {
  const [b, h, tq, d] = q.shape;
  let scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)); // [B, H, Tq, Tk]
  if (mask) scores = tf.add(scores, mask);
  const probs = tf.softmax(scores, -1);
  const context = tf
    .matMul(probs, v)
    .transpose([0, 2, 1, 3])
    .reshape([b, tq, h * d]); // [B, Tq, D]
  return { context, probs };
}

/** The ViT: pixels [B, 3, S, S] → post-LayerNorm states [B, T, D]. */
export function referenceVision(sd: StateDict, c: BlipConfig, pixels: tf.Tensor4D): tf.Tensor3D {
  const v = c.vision;
  const p = `vision_model`;
  const [b] = pixels.shape;
  const kernel = sd(`${p}.embeddings.patch_embedding.weight`).transpose([2, 3, 1, 0]) as tf.Tensor4D; // [kh, kw, C, D]
  const patches = tf.conv2d(pixels.transpose([0, 2, 3, 1]) as tf.Tensor4D, kernel, v.patchSize, 'valid'); // [B, g, g, D]
  const embedded = tf.add(patches.reshape([b, -1, v.hiddenSize]), sd(`${p}.embeddings.patch_embedding.bias`));
  const cls = tf.tile(sd(`${p}.embeddings.class_embedding`).reshape([1, 1, v.hiddenSize]), [b, 1, 1]);
  let x = tf.add(tf.concat([cls, embedded], 1), sd(`${p}.embeddings.position_embedding`)); // [B, T, D]
  for (let i = 0; i < v.numHiddenLayers; i++) {
    const l = `${p}.encoder.layers.${i}`;
    const qkv = linear(sd, `${l}.self_attn.qkv`, layerNorm(sd, `${l}.layer_norm1`, x, v.layerNormEps)); // [B, T, 3D]
    const [q, k, val] = tf.split(qkv, 3, -1).map((t) => heads(t, v.numAttentionHeads));
    x = tf.add(x, linear(sd, `${l}.self_attn.projection`, attention(q, k, val).context));
    const h = gelu(linear(sd, `${l}.mlp.fc1`, layerNorm(sd, `${l}.layer_norm2`, x, v.layerNormEps)));
    x = tf.add(x, linear(sd, `${l}.mlp.fc2`, h));
  }
  return layerNorm(sd, `${p}.post_layernorm`, x, v.layerNormEps) as tf.Tensor3D;
}

/** BERT: ids, mask [N, L] (and image states [N, T, E] for ITM) → states [N, L, D], cross-attention probs per layer. */
export function referenceText(sd: StateDict, c: BlipConfig, ids: tf.Tensor2D, mask: tf.Tensor2D, image?: tf.Tensor3D) {
  const t = c.text;
  const p = 'text_encoder';
  const [, len] = ids.shape;
  const words = tf.gather(sd(`${p}.embeddings.word_embeddings.weight`), ids);
  const positions = sd(`${p}.embeddings.position_embeddings.weight`).slice([0, 0], [len, -1]);
  let x = layerNorm(sd, `${p}.embeddings.LayerNorm`, tf.add(words, positions), t.layerNormEps);
  const additive = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e30).reshape([ids.shape[0], 1, 1, len]);
  const crossProbs: tf.Tensor[] = [];
  for (let i = 0; i < t.numHiddenLayers; i++) {
    const l = `${p}.encoder.layer.${i}`;
    const h = t.numAttentionHeads;
    const self = attention(
      heads(linear(sd, `${l}.attention.self.query`, x), h),
      heads(linear(sd, `${l}.attention.self.key`, x), h),
      heads(linear(sd, `${l}.attention.self.value`, x), h),
      additive,
    );
    x = layerNorm(
      sd,
      `${l}.attention.output.LayerNorm`,
      tf.add(linear(sd, `${l}.attention.output.dense`, self.context), x),
      t.layerNormEps,
    );
    if (image) {
      const cross = attention(
        heads(linear(sd, `${l}.crossattention.self.query`, x), h),
        heads(linear(sd, `${l}.crossattention.self.key`, image), h),
        heads(linear(sd, `${l}.crossattention.self.value`, image), h),
      );
      crossProbs.push(cross.probs);
      x = layerNorm(
        sd,
        `${l}.crossattention.output.LayerNorm`,
        tf.add(linear(sd, `${l}.crossattention.output.dense`, cross.context), x),
        t.layerNormEps,
      );
    }
    const ff = linear(sd, `${l}.output.dense`, gelu(linear(sd, `${l}.intermediate.dense`, x)));
    x = layerNorm(sd, `${l}.output.LayerNorm`, tf.add(ff, x), t.layerNormEps);
  }
  return { states: x as tf.Tensor3D, crossProbs };
}

function cls(x: tf.Tensor3D): tf.Tensor2D {
  return x.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]) as tf.Tensor2D;
}

function normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
}

/** The full ITM/ITC forward of every image with every text: the names of the reference dumps. */
export function referenceForward(sd: StateDict, c: BlipConfig, pixels: tf.Tensor4D, ids: tf.Tensor2D, mask: tf.Tensor2D) {
  const vision = referenceVision(sd, c, pixels); // [B, T, E]
  const n = ids.shape[0];
  const itm = tf.unstack(vision).map((one) => {
    // one image [T, E] with every text
    const { states, crossProbs } = referenceText(sd, c, ids, mask, tf.tile(one.expandDims(0), [n, 1, 1]) as tf.Tensor3D);
    return { logits: linear(sd, 'itm_head', cls(states)), crossProbs }; // [N, 2]
  });
  const text = referenceText(sd, c, ids, mask).states;
  const textEmbeds = normalize(linear(sd, 'text_proj', cls(text)) as tf.Tensor2D);
  const imageEmbeds = normalize(linear(sd, 'vision_proj', cls(vision)) as tf.Tensor2D);
  return {
    'vision.last_hidden_state': vision,
    'itm.logits': tf.stack(itm.map((r) => r.logits)), // [B, N, 2]
    'itm.text.cross_attentions': (layer: number) =>
      tf.concat(
        itm.map((r) => r.crossProbs[layer]),
        0,
      ), // [B*N, H, L, T]
    'itc.text_embeds': textEmbeds,
    'itc.image_embeds': imageEmbeds,
    'itc.cosine': tf.matMul(imageEmbeds, textEmbeds, false, true),
  };
}

import * as tf from '@tensorflow/tfjs';

/**
 * Gathers named tensors recorded during forward passes that run per image, and concatenates
 * each name's parts along the batch axis at the end (the reference's image-major layout).
 */
export class Collector {
  private readonly parts = new Map<string, tf.Tensor[]>();

  readonly record = (name: string, t: tf.Tensor): void => {
    const list = this.parts.get(name) ?? [];
    list.push(tf.keep(t.clone()));
    this.parts.set(name, list);
  };

  /** The gathered tensors, now the caller's to dispose. */
  finish(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, list] of this.parts) {
      out.set(name, list.length === 1 ? list[0] : tf.tidy(() => tf.concat(list, 0)));
      if (list.length > 1) list.forEach((t) => t.dispose());
    }
    this.parts.clear();
    return out;
  }

  dispose(): void {
    for (const list of this.parts.values()) list.forEach((t) => t.dispose());
    this.parts.clear();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { Recorder } from '../../nn/ops';

/**
 * Gathers the named tensors a forward pass records (only those `wanted` accepts), per image,
 * and concatenates each name's parts along the batch axis at the end (the reference's
 * image-major layout).
 */
export class Collector implements Recorder {
  private readonly parts = new Map<string, tf.Tensor[]>();

  constructor(private readonly wanted: (name: string) => boolean = () => true) {}

  wants(name: string): boolean {
    return this.wanted(name);
  }

  record(name: string, t: tf.Tensor): void {
    if (!this.wanted(name)) return;
    const list = this.parts.get(name) ?? [];
    list.push(tf.keep(t.clone()));
    this.parts.set(name, list);
  }

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

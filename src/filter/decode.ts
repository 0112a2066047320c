import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import '../node/zlib';
import { decodeImage } from '../image/decode';
import { ImageProcessor } from '../image/processor';
import { resizeRgb } from '../image/resize';
import { RawImage } from '../image/types';

/**
 * Decoding and resizing off the main thread: a pool of worker threads turns encoded images
 * into RGB at the model's input size while the main thread runs the model. With 0 workers it
 * decodes inline (the plain reference path the tests compare against). Either way the result is
 * what the model's preprocessor makes of the bytes: same decoder, same resize.
 */

export interface DecodeSpec {
  exifTranspose: boolean;
  maxPixels?: number;
  resize?: { width: number; height: number; resample: number };
}

export interface DecodeJob {
  id: number;
  bytes: Uint8Array;
  name: string;
  spec: DecodeSpec;
}

export type DecodeReply = { id: number; data: Uint8Array; width: number; height: number } | { id: number; error: string };

export function decodeSpec(processor: ImageProcessor): DecodeSpec {
  const c = processor.config;
  return {
    exifTranspose: processor.exifTranspose,
    maxPixels: processor.maxPixels,
    resize: c.doResize ? { width: c.width, height: c.height, resample: c.resample } : undefined,
  };
}

/** A decoded image ready for the model, or why it could not be decoded. */
export type Decoded = { image: RawImage } | { error: string };

/** Default workers: one per core beyond the first (the model runs on the main thread), at most 4. */
export function defaultDecoders(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores - 1));
}

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (d: Decoded) => void>();
  private nextId = 0;
  private turn = 0;

  constructor(
    private readonly spec: DecodeSpec,
    size: number,
  ) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(path.join(__dirname, 'decode-worker.js'));
      w.on('message', (reply: DecodeReply) => {
        const done = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        done?.(
          'error' in reply
            ? { error: reply.error }
            : { image: { data: reply.data, width: reply.width, height: reply.height, channels: 3 } },
        );
      });
      w.on('error', (e) => {
        for (const [id, done] of this.waiting) {
          this.waiting.delete(id);
          done({ error: `decoder thread failed: ${e.message}` });
        }
      });
      this.workers.push(w);
    }
  }

  /** Decodes `bytes` (named `name` in errors); never rejects. */
  decode(bytes: Uint8Array, name: string): Promise<Decoded> {
    if (this.workers.length === 0) return Promise.resolve(decodeInline(bytes, name, this.spec));
    const id = this.nextId++;
    const job: DecodeJob = { id, bytes, name, spec: this.spec };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.workers[this.turn++ % this.workers.length].postMessage(job);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}

export function decodeInline(bytes: Uint8Array, name: string, spec: DecodeSpec): Decoded {
  try {
    const rgb = decodeImage(bytes, name, { exifTranspose: spec.exifTranspose, maxPixels: spec.maxPixels });
    const out = spec.resize ? resizeRgb(rgb, spec.resize.width, spec.resize.height, spec.resize.resample) : rgb;
    return { image: { data: out.data, width: out.width, height: out.height, channels: 3 } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

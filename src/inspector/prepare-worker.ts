// Node only: decodes uploads in a worker thread, so a 50 MP PNG (seconds of decoding) never
// blocks the server's event loop; shrinks video frames there too (ffmpeg decodes them in its own process). The session stays platform-neutral: it only sees an ImagePreparer.
import * as path from 'path';
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import { RawImage } from '../image';
import { PrepareOptions, PreparedImage, prepareFrame, prepareImage } from './prepare';
import { RequestError } from './request-error';
import type { ImagePreparer } from './session';

const ROLE = 'blip-itm inspector prepare';

/** An encoded image (bytes) or a decoded video frame (frame). */
type Job = { id: number; name: string; opts: PrepareOptions } & ({ bytes: Uint8Array } | { frame: RawImage });
type Reply = { id: number; image: PreparedImage } | { id: number; error: { status?: number; message: string } };

/** One worker thread, started on the first upload; jobs run in it one at a time, in order. */
export function workerPreparer(): ImagePreparer {
  let worker: Worker | null = null;
  let nextId = 0;
  const waiting = new Map<number, { resolve: (image: PreparedImage) => void; reject: (e: Error) => void }>();
  const failAll = (e: Error) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
    worker = null;
  };
  const start = (): Worker => {
    const w = new Worker(path.join(__dirname, 'prepare-worker.js'), { workerData: ROLE });
    w.on('message', (reply: Reply) => {
      const job = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (waiting.size === 0) w.unref(); // an idle worker keeps no process alive
      if (!job) return;
      if ('image' in reply) job.resolve(reply.image);
      else job.reject(reply.error.status ? new RequestError(reply.error.status, reply.error.message) : new Error(reply.error.message));
    });
    w.on('error', (e) => failAll(new Error(`image decoding worker failed: ${e.message}`)));
    w.on('exit', (code) => failAll(new Error(`image decoding worker exited (code ${code})`)));
    return w;
  };
  const send = (job: Job, transfer: ArrayBuffer): Promise<PreparedImage> => {
    worker ??= start();
    worker.ref();
    const w = worker;
    return new Promise<PreparedImage>((resolve, reject) => {
      waiting.set(job.id, { resolve, reject });
      w.postMessage(job, [transfer]);
    });
  };
  // Private copies are moved (not copied again) to the worker.
  return {
    prepare(bytes, name, opts) {
      const own = bytes.slice();
      return send({ id: nextId++, bytes: own, name, opts }, own.buffer);
    },
    prepareFrame(frame, name, opts) {
      const own = frame.data.slice();
      return send({ id: nextId++, frame: { ...frame, data: own }, name, opts }, own.buffer);
    },
    async close() {
      const w = worker;
      worker = null;
      await w?.terminate();
    },
  };
}

function serve(): void {
  parentPort!.on('message', (job: Job) => {
    let reply: Reply;
    const transfer: ArrayBuffer[] = [];
    try {
      const image = 'bytes' in job ? prepareImage(job.bytes, job.name, job.opts) : prepareFrame(job.frame, job.name, job.opts);
      reply = { id: job.id, image };
      for (const buffer of new Set([image.modelInput.data.buffer, image.display.data.buffer])) transfer.push(buffer as ArrayBuffer);
    } catch (e) {
      reply = { id: job.id, error: { status: e instanceof RequestError ? e.status : undefined, message: (e as Error).message } };
    }
    parentPort!.postMessage(reply, transfer);
  });
}

if (!isMainThread && workerData === ROLE) serve();

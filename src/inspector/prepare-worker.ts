// Node only: decodes uploads in a worker thread, so a 50 MP PNG (seconds of decoding) never
// blocks the server's event loop. The session stays platform-neutral: it only sees an ImagePreparer.
import * as path from 'path';
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import { PrepareOptions, PreparedImage, prepareImage } from './prepare';
import { RequestError } from './request-error';
import type { ImagePreparer } from './session';

const ROLE = 'blip-itm inspector prepare';

interface Job {
  id: number;
  bytes: Uint8Array;
  name: string;
  opts: PrepareOptions;
}
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
  return {
    prepare(bytes, name, opts) {
      worker ??= start();
      worker.ref();
      const id = nextId++;
      return new Promise<PreparedImage>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        // A private copy is moved (not copied again) to the worker.
        const own = bytes.slice();
        worker!.postMessage({ id, bytes: own, name, opts } satisfies Job, [own.buffer]);
      });
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
      const image = prepareImage(job.bytes, job.name, job.opts);
      reply = { id: job.id, image };
      for (const buffer of new Set([image.modelInput.data.buffer, image.display.data.buffer])) transfer.push(buffer as ArrayBuffer);
    } catch (e) {
      reply = { id: job.id, error: { status: e instanceof RequestError ? e.status : undefined, message: (e as Error).message } };
    }
    parentPort!.postMessage(reply, transfer);
  });
}

if (!isMainThread && workerData === ROLE) serve();

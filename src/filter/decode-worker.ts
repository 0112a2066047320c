/**
 * Worker thread of the decode pool (decode.ts): encoded image → upright RGB at the model's
 * input size, by the same code the inline path runs.
 */
import { parentPort } from 'worker_threads';
import { DecodeJob, DecodeReply, decodeInline } from './decode';

parentPort?.on('message', (job: DecodeJob) => {
  const result = decodeInline(job.bytes, job.name, job.spec);
  if ('error' in result) {
    parentPort?.postMessage({ id: job.id, error: result.error } satisfies DecodeReply);
    return;
  }
  const { data, width, height } = result.image;
  const reply: DecodeReply = { id: job.id, data: data as Uint8Array, width, height };
  parentPort?.postMessage(reply, [data.buffer as ArrayBuffer]);
});

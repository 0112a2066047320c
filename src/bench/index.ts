import * as fs from 'fs';
import { BackendName, backendInfo, useBackend } from '../node/backend';
import { BlipItm } from '../model/blip-itm';
import captions from './captions.json';

/** 16 captions of 6-10 words: the ITM/ITC batch of the benchmark (the PyTorch twin uses the same). */
/**
 * The benchmark's texts, shared with the PyTorch twin (scripts/bench/model.py reads the same
 * file): one text for itm1_s and 16 captions of 6-10 words for itm16_s / text16_s.
 */
export const BENCH_TEXTS: readonly string[] = captions.texts16;
export const BENCH_TEXT: string = captions.itm1_text;

export interface BenchOptions {
  model: string;
  image: string;
  /** Timed runs after one warm-up run (default 3). */
  runs?: number;
  backend?: BackendName;
  /** wasm threads (default: every core). */
  threads?: number;
  /** Called after each run with that run's timings (e.g. progress on stderr). */
  onRun?: (run: number, t: RunTimes, warmUp: boolean) => void;
}

export interface RunTimes {
  load_s: number;
  image_s: number;
  itm1_s: number;
  itm16_s: number;
  text16_s: number;
}

export interface BenchResult extends RunTimes {
  backend: string;
  /** wasm: its pool's threads (1 = single-threaded build); 0 for backends with their own pools. */
  threads: number;
  /** "cpu", or the GPU adapter (webgpu: vendor, architecture and driver description). */
  device: string;
  runs: number;
  /** Peak resident set size of the process, MiB. */
  rss_mb: number;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak RSS in MiB: VmHWM from /proc/self/status on Linux, else process.resourceUsage().maxRSS. */
export function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024; // kB
}

async function timeRun(opts: BenchOptions): Promise<RunTimes> {
  let t = process.hrtime.bigint();
  const model = BlipItm.fromDir(opts.model);
  const load_s = seconds(t);
  try {
    t = process.hrtime.bigint();
    (await model.encodeImages([opts.image])).forEach((e) => e.dispose());
    const image_s = seconds(t);

    t = process.hrtime.bigint();
    await model.match([opts.image], [BENCH_TEXT]);
    const itm1_s = seconds(t);

    const [embedding] = await model.encodeImages([opts.image]); // untimed: itm16 starts from an encoded image
    try {
      t = process.hrtime.bigint();
      await model.match([embedding], [...BENCH_TEXTS]);
    } finally {
      embedding.dispose();
    }
    const itm16_s = seconds(t);

    t = process.hrtime.bigint();
    await model.encodeTexts([...BENCH_TEXTS]);
    const text16_s = seconds(t);
    return { load_s, image_s, itm1_s, itm16_s, text16_s };
  } finally {
    model.dispose();
  }
}

/**
 * Times loading and inference: one warm-up run, then `runs` runs; reports each quantity's
 * median. A run loads the model from the directory (load_s), encodes the image (image_s),
 * matches the image file against one text, encoding included (itm1_s), matches an encoded
 * image against 16 texts (itm16_s, the image's cross-attention keys/values computed within,
 * as on first use) and embeds the 16 texts for ITC (text16_s).
 */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const runs = Math.max(1, Math.floor(opts.runs ?? 3));
  if (!fs.existsSync(opts.image)) throw new Error(`${opts.image}: no such file`);
  await useBackend(opts.backend ?? 'auto', { threads: opts.threads });
  const info = backendInfo();
  const all: RunTimes[] = [];
  for (let i = 0; i <= runs; i++) {
    const t = await timeRun(opts);
    opts.onRun?.(i, t, i === 0);
    if (i > 0) all.push(t);
  }
  const med = (k: keyof RunTimes) => Number(median(all.map((r) => r[k])).toFixed(3));
  return {
    load_s: med('load_s'),
    image_s: med('image_s'),
    itm1_s: med('itm1_s'),
    itm16_s: med('itm16_s'),
    text16_s: med('text16_s'),
    rss_mb: Math.round(peakRssMb()),
    backend: info.backend,
    threads: info.threads,
    device: info.device,
    runs,
  };
}

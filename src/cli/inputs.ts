import { BackendName } from '../node/backend';
import { BlipItm } from '../model/blip-itm';
import { ParsedArgs, UsageError } from './command';
import { readTextFile, splitLines } from './io';
import { StatusLine } from './progress';

export function modelSource(args: ParsedArgs): string {
  const source = args.string('model') ?? process.env.BLIP_ITM_MODEL;
  if (!source) throw new UsageError(`--model DIR|HUB_ID is required (or set BLIP_ITM_MODEL)`);
  return source;
}

/**
 * Loads the model named by --model/--backend, warning on stderr about checkpoint tensors it
 * ignores. On a terminal (and without --quiet) a status line says so while it loads.
 */
export async function loadModel(args: ParsedArgs, status = StatusLine.forStderr(args.flag('quiet'))): Promise<BlipItm> {
  const source = modelSource(args);
  status.stage(`loading model ${source}…`);
  let model: BlipItm;
  try {
    model = await BlipItm.load(source, {
      backend: (args.string('backend') ?? 'auto') as BackendName,
      threads: threadsFrom(args),
      progress: status.enabled,
    });
  } finally {
    status.clear();
  }
  if (model.unusedWeights.length) {
    const shown = model.unusedWeights.slice(0, 5).join(', ');
    const more = model.unusedWeights.length > 5 ? ` and ${model.unusedWeights.length - 5} more` : '';
    process.stderr.write(`blip-itm: note: the checkpoint has tensors the model does not use: ${shown}${more}\n`);
  }
  return model;
}

/** Texts from --text, then --texts-file (one per line), in that order. */
export function textsFrom(args: ParsedArgs): string[] {
  const texts = args.strings('text');
  const file = args.string('texts-file');
  if (file) {
    texts.push(...splitLines(readTextFile(file)));
  }
  return texts;
}

/** wasm threads: --threads N, else $BLIP_ITM_WASM_THREADS, else undefined (every core: useBackend's default). */
export function threadsFrom(args: ParsedArgs): number | undefined {
  const fromEnv = process.env.BLIP_ITM_WASM_THREADS;
  const n = args.integer('threads') ?? (fromEnv ? Number(fromEnv) : undefined);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1 || n > 8)
    throw new UsageError(`--threads must be an integer from 1 to 8, got ${args.string('threads') ?? fromEnv}`);
  return n;
}

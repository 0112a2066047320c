import { resolveModel } from '../../hub';
import { HALF_DTYPES, HalfDType, convertCheckpoint } from '../../node/convert';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { modelSource } from '../inputs';
import { StatusLine } from '../progress';

export const convert: Command = {
  name: 'convert',
  summary:
    'Writes a copy of a checkpoint with its weights in float16 or bfloat16: half the download (the model still computes in float32).',
  usage: 'convert --model DIR|HUB_ID --dtype float16|bfloat16 --out DIR [--quiet]',
  options: {
    model: MODEL_OPTIONS.model,
    quiet: MODEL_OPTIONS.quiet,
    dtype: { type: 'string', arg: 'DTYPE', help: 'float16 (as transformers model.half()) or bfloat16' },
    out: { type: 'string', arg: 'DIR', help: 'the new model directory (must not exist, or be empty); written whole or not at all' },
  },
  details:
    'The output holds model.safetensors (F16 or BF16; integer buffers stay I64) and the config, preprocessor and\n' +
    'tokenizer files of the source, so blip-itm (Node and browser) and transformers load it as they load the original.\n' +
    'See docs/convert.md for what the precision changes in the scores.',
  async run(args) {
    const dtype = args.required('dtype');
    if (!(HALF_DTYPES as readonly string[]).includes(dtype))
      throw new UsageError(`convert: --dtype must be ${HALF_DTYPES.join(' or ')}, got "${dtype}"`);
    const out = args.required('out');
    const status = StatusLine.forStderr(args.flag('quiet'));
    const dir = await resolveModel(modelSource(args), { progress: status.enabled });
    status.stage('converting…');
    let report;
    try {
      report = convertCheckpoint(dir, out, dtype as HalfDType, (done, total) => status.count('converted tensors', done, total));
    } finally {
      status.clear();
    }
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    process.stdout.write(`wrote ${out} (${report.tensors} tensors, ${dtype}: ${mb(report.bytesAfter)}, was ${mb(report.bytesBefore)})\n`);
  },
};

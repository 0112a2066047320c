import { compareTensors, formatDiffs } from '../../parity/compare';
import { readAllSafetensors } from '../../node/safetensors';
import * as fs from 'fs';
import { Command, UsageError } from '../command';
import { fsProblem } from '../io';

export const parity: Command = {
  name: 'parity',
  summary:
    'Compares two activation dumps tensor by tensor (max absolute and scale-relative difference); ' +
    'exits 1 when any tensor is off by more than the tolerance or missing.',
  usage: 'parity REFERENCE.safetensors ACTUAL.safetensors [--tol 1e-4] [--only PREFIX...] [--json]',
  positionals: 'REFERENCE: e.g. a dump made by transformers; ACTUAL: e.g. `blip-itm dump` of the same inputs.',
  options: {
    tol: { type: 'string', arg: 'X', help: 'largest allowed |Δ| / max|reference| per tensor (default 1e-4)' },
    only: { type: 'string', multiple: true, arg: 'PREFIX', help: 'compare only tensors whose name starts with PREFIX' },
    json: { type: 'boolean', help: 'print the rows as JSON' },
  },
  async run(args) {
    if (args.positionals.length !== 2) throw new UsageError('parity: give two files, REFERENCE and ACTUAL');
    const [refFile, actFile] = args.positionals;
    for (const file of [refFile, actFile]) {
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch (e) {
        throw fsProblem(file, e);
      }
      if (st.isDirectory()) throw new Error(`${file}: is a directory; give a .safetensors file`);
    }
    const tol = args.number('tol', 1e-4);
    const only = args.strings('only');
    const rows = compareTensors(readAllSafetensors(refFile).tensors, readAllSafetensors(actFile).tensors, {
      tol,
      only: only.length ? only : undefined,
    });
    if (!rows.length) throw new Error(`${refFile}: no tensors to compare`);
    process.stdout.write(args.flag('json') ? JSON.stringify(rows) + '\n' : formatDiffs(rows) + '\n');
    const failed = rows.filter((r) => !r.ok);
    if (failed.length) {
      process.stderr.write(`parity: ${failed.length} of ${rows.length} tensors off by more than ${tol}\n`);
      process.exitCode = 1;
    } else if (!args.flag('json')) {
      process.stdout.write(`all ${rows.length} tensors within ${tol}\n`);
    }
  },
};

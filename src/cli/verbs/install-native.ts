import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Command } from '../command';

/** The offline installer shipped with the package (bin/ sits beside dist/ in the package). */
const SCRIPT = path.resolve(__dirname, '../../../../bin/install-tfjs-node-offline.sh');

/**
 * The folder whose node_modules holds the @tensorflow/tfjs-core blip-itm itself loads: tfjs-node
 * must land beside it (one tfjs-core), in this checkout or in the project that installed blip-itm.
 */
function nodeRoot(): string {
  const tfjsPackage = require.resolve('@tensorflow/tfjs-core/package.json'); // ROOT/node_modules/@tensorflow/tfjs-core/package.json
  return path.resolve(path.dirname(tfjsPackage), '../../..');
}

export const installNative: Command = {
  name: 'install-native',
  summary: "Builds the native TensorFlow backend (tfjs-node) offline from TensorFlow's CPU wheel; see docs/native-backend.md.",
  usage: 'install-native [--force | --uninstall]',
  options: {
    force: { type: 'boolean', help: 'rebuild from scratch' },
    uninstall: { type: 'boolean', help: 'remove @tensorflow/tfjs-node again' },
  },
  details: [
    'Runs bin/install-tfjs-node-offline.sh: pip-downloads tensorflow-cpu (about 270 MB, cached),',
    'npm-installs @tensorflow/tfjs-node without its download script, and builds its addon against the',
    "wheel's libtensorflow (Linux x86_64; needs python3 with pip, g++, make and Node's headers).",
    'Afterwards --backend auto picks it (after a hardware GPU through WebGPU).',
  ].join('\n'),
  async run(args) {
    if (!fs.existsSync(SCRIPT)) throw new Error(`${SCRIPT}: the installer script is missing from this copy of blip-itm`);
    const flag = args.flag('uninstall') ? ['--uninstall'] : args.flag('force') ? ['--force'] : [];
    const r = spawnSync('bash', [SCRIPT, ...flag], { stdio: 'inherit', env: { ...process.env, BLIP_ITM_NODE_ROOT: nodeRoot() } });
    if (r.error) throw new Error(`could not run bash ${SCRIPT}: ${r.error.message}`);
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  },
};

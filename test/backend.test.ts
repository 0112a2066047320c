import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BACKENDS, defaultThreads, useBackend } from '../src/node/backend';
import { WASM_THREADS_MAX, WASM_THREADS_TFJS_VERSION, checkWasmThreadsSupported } from '../src/node/wasm-threads';
import { isSoftwareAdapter } from '../src/node/webgpu';
import { runChild } from './backend-spawn';
import { TINY, fixture } from './helpers/fixtures';

const REFERENCE = fixture('reference', 'tiny-activations.safetensors');

describe('backends: choice, threads and devices', function () {
  this.timeout(300_000);

  it('offers webgpu beside auto, tensorflow, wasm and cpu, and refuses an unknown name', async () => {
    expect(BACKENDS).to.include.members(['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    let err: Error | null = null;
    try {
      await useBackend('metal' as never);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/unknown backend "metal"/);
  });

  it("defaults wasm to every core, within the wasm's cap of 8", () => {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    expect(defaultThreads()).to.equal(Math.min(WASM_THREADS_MAX, cores));
  });

  it('checks the tfjs-backend-wasm version the threads workaround was written for', () => {
    const installed = require('@tensorflow/tfjs-backend-wasm/package.json').version as string;
    expect(installed).to.equal(WASM_THREADS_TFJS_VERSION);
    expect(checkWasmThreadsSupported()).to.equal(null);
  });

  it('recognises software WebGPU adapters by fallback flag, vendor, architecture or description', () => {
    const hw = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100' };
    expect(isSoftwareAdapter(hw)).to.equal(false);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: '', description: '' })).to.equal(true);
    expect(isSoftwareAdapter({ ...hw, vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).to.equal(true);
    expect(isSoftwareAdapter({ ...hw, description: 'lavapipe' })).to.equal(true);
    expect(isSoftwareAdapter({ ...hw, isFallbackAdapter: true })).to.equal(true);
    expect(isSoftwareAdapter(hw, { isFallbackAdapter: true })).to.equal(true);
  });

  it('multi-threaded wasm gives bit-identical outputs to one thread (tiny model, fresh processes)', () => {
    const one = runChild(['wasm', '1', TINY, REFERENCE]);
    const two = runChild(['wasm', '2', TINY, REFERENCE]);
    expect(one.result, one.stderr).to.not.equal(null);
    expect(two.result, two.stderr).to.not.equal(null);
    expect(one.result!.threads).to.equal(1);
    expect(two.result!.threads).to.equal(2);
    expect(two.result!.hex).to.deep.equal(one.result!.hex);
    for (const d of Object.values(two.result!.maxDiff)) expect(d).to.be.below(1e-4);
  });

  it('wasm without a thread count runs on every core', () => {
    const run = runChild(['wasm']);
    expect(run.result, run.stderr).to.not.equal(null);
    expect(run.result!.threads).to.equal(defaultThreads());
    expect(run.stderr).to.equal('');
  });

  it('ships the offline native installer that `blip-itm install-native` runs', async () => {
    const root = path.resolve(__dirname, '../..');
    const script = path.join(root, 'bin', 'install-tfjs-node-offline.sh');
    expect(fs.existsSync(script)).to.equal(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).to.include('bin');
    const { main } = require('../src/cli/main') as typeof import('../src/cli/main');
    const write = process.stdout.write;
    let help = '';
    process.stdout.write = ((chunk: string) => {
      help += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await main(['install-native', '--help'])).to.equal(0);
    } finally {
      process.stdout.write = write;
    }
    expect(help).to.match(/install-native \[--force \| --uninstall\]/);
  });
});

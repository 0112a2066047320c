import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { gpuDeviceNodes, probeAdapterQuietly } from '../src/node/gpu-probe';
import { isSoftwareAdapter } from '../src/node/webgpu';
import { SWIFTSHADER_ENV } from './backend-spawn';
import { tempDir } from './helpers/tmp';

/**
 * `auto`'s WebGPU probe: silent, fast without a GPU, and never a software adapter. The machine
 * CI runs on has libvulkan1 and Mesa's drivers (from ffmpeg) but no GPU: loading Dawn in-process
 * there printed the drivers' messages before every result.
 */
describe('auto WebGPU probe', () => {
  const adapter = (vendor: string, architecture: string, description: string, isFallbackAdapter = false) => ({
    vendor,
    architecture,
    device: '',
    description,
    isFallbackAdapter,
  });

  it('finds GPU device nodes only where a driver could reach a GPU', () => {
    const dev = tempDir('blip-itm-dev-');
    expect(gpuDeviceNodes(dev)).to.deep.equal([]);
    fs.mkdirSync(path.join(dev, 'dri'));
    fs.writeFileSync(path.join(dev, 'dri', 'card0'), '');
    expect(gpuDeviceNodes(dev), 'a display-only card node').to.deep.equal([]);
    fs.writeFileSync(path.join(dev, 'dri', 'renderD128'), '');
    fs.writeFileSync(path.join(dev, 'nvidiactl'), '');
    expect(gpuDeviceNodes(dev)).to.deep.equal([path.join(dev, 'dri', 'renderD128'), path.join(dev, 'nvidiactl')]);
  });

  it('counts lavapipe, llvmpipe, SwiftShader and fallback adapters as software, a GPU as hardware', () => {
    expect(isSoftwareAdapter(adapter('mesa', '', 'llvmpipe (LLVM 15.0.6, 256 bits)'))).to.equal(true);
    expect(isSoftwareAdapter(adapter('mesa', 'lavapipe', ''))).to.equal(true);
    expect(isSoftwareAdapter(adapter('google', 'swiftshader', 'SwiftShader driver 5.0.0'))).to.equal(true);
    expect(isSoftwareAdapter(adapter('unknown', '', '', true))).to.equal(true);
    expect(isSoftwareAdapter(adapter('nvidia', 'ampere', 'NVIDIA GeForce RTX 3080'))).to.equal(false);
    expect(isSoftwareAdapter(adapter('amd', 'rdna-3', 'AMD Radeon RX 7900 XTX (RADV NAVI31)'))).to.equal(false);
  });

  it('without a GPU device, answers "no" in under 50 ms and prints nothing (in a fresh process)', function () {
    if (process.platform !== 'linux' || gpuDeviceNodes().length > 0) this.skip();
    const script = [
      `const { registerWebGpu } = require(${JSON.stringify(path.resolve(__dirname, '../src/node/webgpu.js'))});`,
      'const t = process.hrtime.bigint();',
      'registerWebGpu(false).then((r) => console.log(JSON.stringify({ r, ms: Number(process.hrtime.bigint() - t) / 1e6 })));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).to.equal('');
    const { r: reason, ms } = JSON.parse(r.stdout) as { r: unknown; ms: number };
    expect(reason).to.match(/no GPU device|not installed/);
    expect(ms).to.be.below(50);
  });

  it('probes in a child process: a SwiftShader adapter comes back as software, its messages kept', function () {
    this.timeout(60_000);
    let entry: string;
    try {
      entry = require.resolve('webgpu');
    } catch {
      return this.skip(); // the optional package "webgpu" is not installed
    }
    if (!fs.existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES)) {
      if (process.env.CI) throw new Error(`${SWIFTSHADER_ENV.VK_ICD_FILENAMES} missing; CI installs chromium`);
      return this.skip();
    }
    const probed = probeAdapterQuietly(entry, { ...process.env, ...SWIFTSHADER_ENV });
    expect(probed).to.be.an('object');
    expect(isSoftwareAdapter(probed as Exclude<typeof probed, string | null>)).to.equal(true);
    // A machine's drivers found nothing to use: null, not a throw, and nothing printed here.
    expect(probeAdapterQuietly(entry, { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json' })).to.equal(null);
  });
});

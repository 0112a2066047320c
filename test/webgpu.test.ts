import { expect } from 'chai';
import * as fs from 'fs';
import { SWIFTSHADER_ENV, runChild } from './backend-spawn';
import { TINY, fixture } from './helpers/fixtures';

const REFERENCE = fixture('reference', 'tiny-activations.safetensors');

/**
 * WebGPU in Node through Dawn (the optional `webgpu` package) on SwiftShader, Chromium's CPU
 * Vulkan driver: the only adapter a machine without a GPU has. Each test spawns a child process
 * with VK_ICD_FILENAMES / LD_LIBRARY_PATH pointing at Chromium's SwiftShader (Dawn reads them
 * when it loads). CI (CI=true) installs Chromium and must run these; elsewhere they are skipped,
 * with the reason, only when Chromium's SwiftShader or the webgpu package is missing. The model
 * runs on WebGPU through async reads only: a synchronous read (dataSync) fails here, and so the test.
 */
describe('webgpu backend (Dawn on SwiftShader)', function () {
  this.timeout(600_000);

  before(function () {
    const missing = !fs.existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES)
      ? `${SWIFTSHADER_ENV.VK_ICD_FILENAMES} (apt-get install chromium)`
      : !hasPackage('webgpu')
        ? 'the optional package "webgpu"'
        : null;
    if (missing === null) return;
    if (process.env.CI) throw new Error(`webgpu tests need ${missing}; CI must provide it`);
    console.log(`      (skipped: webgpu tests need ${missing})`);
    this.skip();
  });

  it('runs the tiny model within 1e-3 of transformers, on the adapter asked for by name', function () {
    const run = runChild(['webgpu', '', TINY, REFERENCE], SWIFTSHADER_ENV);
    expect(run.result, run.stderr).to.not.equal(null);
    expect(run.result!.backend).to.equal('webgpu');
    expect(run.result!.device).to.match(/swiftshader/i);
    for (const [name, d] of Object.entries(run.result!.maxDiff)) expect(d, name).to.be.below(1e-3);
  });

  it('auto never picks a software adapter such as SwiftShader', () => {
    const run = runChild(['auto', '1'], SWIFTSHADER_ENV);
    expect(run.result, run.stderr).to.not.equal(null);
    expect(run.result!.backend).to.not.equal('webgpu');
  });
});

function hasPackage(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

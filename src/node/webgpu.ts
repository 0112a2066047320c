/**
 * The WebGPU backend in Node: @tensorflow/tfjs-backend-webgpu on Google's Dawn, from the `webgpu`
 * npm package (an optional dependency; Dawn is prebuilt inside it, nothing is downloaded).
 *
 * tfjs-backend-webgpu registers itself only where `navigator.gpu` exists (browsers), so this module
 * gives Node a `navigator.gpu` from Dawn, picks the adapter itself and registers the 'webgpu'
 * backend on that adapter's device. Picking it here is what lets `auto` refuse software adapters
 * (SwiftShader, lavapipe, llvmpipe, WARP): they run WebGPU on the CPU, far slower than wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

/** The parts of the WebGPU API this module touches (the full types live in @webgpu/types). */
interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapter {
  info: GpuAdapterInfo;
  isFallbackAdapter?: boolean;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(desc: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<GpuDevice>;
}
interface GpuDevice {
  destroy(): void;
  lost: Promise<unknown>;
}
interface Gpu {
  requestAdapter(opts?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}
type WebGpuBackendClass = new (device: GpuDevice, info: GpuAdapterInfo) => tf.KernelBackend;

/** The adapter the 'webgpu' backend runs on, as `bench` and `useBackend` report it. */
export interface GpuAdapterSummary {
  /** e.g. "nvidia ampere (NVIDIA GeForce RTX 3080)" or "google swiftshader (SwiftShader driver 5.0.0)". */
  name: string;
  /** A CPU implementation of the GPU API (SwiftShader, lavapipe, llvmpipe, WARP). */
  software: boolean;
}

const SOFTWARE_ADAPTER = /swiftshader|lavapipe|llvmpipe|softpipe|\bwarp\b|basic render|microsoft basic/i;

export function isSoftwareAdapter(info: GpuAdapterInfo, adapter?: { isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter || adapter?.isFallbackAdapter) return true;
  return SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

function describe(info: GpuAdapterInfo): string {
  const head = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  return info.description ? `${head} (${info.description})` : head;
}

/**
 * Whether a Vulkan loader can be found on Linux. Without one Dawn prints a warning on stderr and
 * finds no adapter, so `auto` does not even try (it would only add that noise to every run).
 */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

let registered: GpuAdapterSummary | null = null;

function loadDawn(): DawnModule | string {
  try {
    return require('webgpu') as DawnModule; // an ES module: needs Node >= 20.19 (require of ESM)
  } catch (e) {
    return `the optional package "webgpu" (Dawn) could not be loaded: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Makes Dawn's GPU the global `navigator.gpu` and its classes and constants (GPUBufferUsage, ...) globals. */
function exposeGlobals(dawn: DawnModule, gpu: Gpu): void {
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav === undefined) g.navigator = { gpu };
  else Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
}

/**
 * Registers the 'webgpu' tfjs backend on Dawn's best adapter and returns that adapter, or a
 * one-line reason why not (the package cannot load, no adapter, or only a software adapter when
 * `allowSoftware` is false). Idempotent: a second call returns the first adapter.
 */
export async function registerWebGpu(allowSoftware: boolean): Promise<GpuAdapterSummary | string> {
  if (registered) return !registered.software || allowSoftware ? registered : `only a software WebGPU adapter: ${registered.name}`;
  if (!allowSoftware && !vulkanLoaderPresent()) return 'no Vulkan loader (libvulkan.so.1) on this system';
  const dawn = loadDawn();
  if (typeof dawn === 'string') return dawn;
  const gpu = dawn.create([]);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null && allowSoftware) adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
  if (adapter === null) return 'Dawn found no WebGPU adapter (no Vulkan, Metal or Direct3D 12 driver)';
  const info = adapter.info;
  const summary: GpuAdapterSummary = { name: describe(info), software: isSoftwareAdapter(info, adapter) };
  if (summary.software && !allowSoftware) return `only a software WebGPU adapter: ${summary.name}`;

  // Importing the package registers its kernels; with no navigator.gpu yet it registers no factory.
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as { WebGPUBackend: WebGpuBackendClass };
  exposeGlobals(dawn, gpu);
  // The same device request as tfjs-backend-webgpu's own factory (src/base.ts), on our adapter.
  const limitNames = [
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
  ];
  const requiredLimits = Object.fromEntries(limitNames.map((k) => [k, adapter.limits[k]]));
  const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 3);
  registered = summary;
  return summary;
}

/** The adapter of the registered 'webgpu' backend, if any. */
export function webGpuAdapter(): GpuAdapterSummary | null {
  return registered;
}
